// Tests for the password policy: length in code points, well-formedness, NFKC and the common-password list.
import t from 'tap'
import { dictionary } from '@zxcvbn-ts/language-common'
import { checkPassword, normalizePassword, PASSWORD_MAX_LENGTH, type PasswordVerdict } from '../../src/lib/password-policy'

const COMMON = dictionary['passwords-common']

// Distinct characters so no length-based case accidentally lands on a common password like "aaaaaaaa…".
const ALPHABET = 'Zq7mR2vK9wL4xN8bT3yH6cJ5dF1gP0sE'
function filler (length: number): string {
  let out = ''
  while (out.length < length) out += ALPHABET
  return out.slice(0, length)
}

const LOCK = '\u{1F510}' // 🔐, outside the BMP: two UTF-16 units, one code point

function code (verdict: PasswordVerdict): string {
  return verdict.ok ? 'ok' : verdict.code
}

t.test('PASSWORD_MAX_LENGTH is 128', async (t) => {
  t.equal(PASSWORD_MAX_LENGTH, 128)
})

t.test('length, well-formedness and control characters', async (t) => {
  const cases: Array<{ name: string, password: string, minLength: number, expected: string }> = [
    { name: 'empty', password: '', minLength: 15, expected: 'ERR_PASSWORD_TOO_SHORT' },
    { name: '14 code points at min 15', password: filler(14), minLength: 15, expected: 'ERR_PASSWORD_TOO_SHORT' },
    { name: '15 code points at min 15', password: filler(15), minLength: 15, expected: 'ok' },
    { name: '7 code points at min 8', password: filler(7), minLength: 8, expected: 'ERR_PASSWORD_TOO_SHORT' },
    { name: '8 code points at min 8', password: filler(8), minLength: 8, expected: 'ok' },
    { name: '128 code points', password: filler(128), minLength: 15, expected: 'ok' },
    { name: '129 code points', password: filler(129), minLength: 15, expected: 'ERR_PASSWORD_TOO_LONG' },
    { name: 'very long input refused before normalising', password: filler(100_000), minLength: 15, expected: 'ERR_PASSWORD_TOO_LONG' },
    // 14 emoji are 28 UTF-16 units: a .length check would wrongly accept them.
    { name: '14 astral emoji at min 15', password: LOCK.repeat(14), minLength: 15, expected: 'ERR_PASSWORD_TOO_SHORT' },
    { name: '15 astral emoji at min 15', password: LOCK.repeat(15), minLength: 15, expected: 'ok' },
    // 128 emoji are 256 UTF-16 units: a .length check would wrongly refuse them.
    { name: '128 astral emoji', password: LOCK.repeat(128), minLength: 15, expected: 'ok' },
    { name: '129 astral emoji', password: LOCK.repeat(129), minLength: 15, expected: 'ERR_PASSWORD_TOO_LONG' },
    { name: 'spaces and any script are allowed', password: 'mot de passe ünïcödé 密码 пароль', minLength: 15, expected: 'ok' },
    { name: 'no composition rules: lowercase letters only', password: 'tessera test password', minLength: 15, expected: 'ok' },
    { name: 'lone high surrogate', password: filler(15) + '\uD83D', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'lone low surrogate', password: '\uDD10' + filler(15), minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'surrogates in the wrong order', password: filler(15) + '\uDD10\uD83D', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'NUL', password: filler(15) + '\u0000', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'tab', password: filler(8) + '\t' + filler(8), minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'newline', password: filler(15) + '\n', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'carriage return', password: filler(15) + '\r', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'escape', password: '\u001B' + filler(15), minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'DEL', password: filler(15) + '\u007F', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' },
    { name: 'C1 next-line', password: filler(15) + '\u0085', minLength: 15, expected: 'ERR_PASSWORD_MALFORMED' }
  ]
  for (const c of cases) {
    t.equal(code(checkPassword(c.password, c.minLength)), c.expected, c.name)
  }
})

t.test('an accepted password is returned whole, never truncated', async (t) => {
  const password = filler(128)
  t.same(checkPassword(password, 15), { ok: true, normalized: password })
})

t.test('NFKC: fullwidth and decomposed input normalise to the plain form', async (t) => {
  const ascii = 'correcthorsebattery'
  const fullwidth = 'ｃｏｒｒｅｃｔｈｏｒｓｅｂａｔｔｅｒｙ'
  t.not(fullwidth, ascii)
  const a = checkPassword(ascii, 15)
  const b = checkPassword(fullwidth, 15)
  t.same(a, { ok: true, normalized: ascii })
  t.same(b, { ok: true, normalized: ascii }, 'the same normalized string, so both hash alike')
  t.equal(normalizePassword(fullwidth), ascii, 'login normalises exactly like registration')

  const composed = 'caf\u00E9 au lait sans sucre'
  const decomposed = 'cafe\u0301 au lait sans sucre'
  t.same(checkPassword(decomposed, 15), { ok: true, normalized: composed })
  t.equal(normalizePassword(decomposed), normalizePassword(composed))
})

t.test('the common-password list', async (t) => {
  t.ok(COMMON.length >= 10_000, `the shipped list holds at least 10,000 entries (${COMMON.length})`)
  // Entries chosen by reading the list; asserting membership first keeps the test honest if the package changes.
  const short = ['password', 'iloveyou', 'password1']
  const long = ['passwordpassword', '1qaz2wsx3edc4rfv']
  for (const p of [...short, ...long]) t.ok(COMMON.includes(p), `"${p}" is in the shipped list`)

  for (const p of short) {
    t.equal(code(checkPassword(p, 8)), 'ERR_PASSWORD_COMMON', `"${p}" refused at min 8`)
    // At the default minimum the length rule catches these first.
    t.equal(code(checkPassword(p, 15)), 'ERR_PASSWORD_TOO_SHORT', `"${p}" too short at min 15`)
  }
  for (const p of long) {
    t.ok([...p].length >= 15)
    t.equal(code(checkPassword(p, 15)), 'ERR_PASSWORD_COMMON', `"${p}" refused at min 15`)
  }

  const variants = ['PASSWORD', 'PassWord', 'ILoveYou', 'Password1', 'PasswordPassword', '1QAZ2WSX3EDC4RFV']
  for (const p of variants) {
    t.equal(code(checkPassword(p, 8)), 'ERR_PASSWORD_COMMON', `case variant "${p}" refused`)
  }
  t.equal(code(checkPassword('ｐａｓｓｗｏｒｄ', 8)), 'ERR_PASSWORD_COMMON', 'fullwidth "password" is refused after NFKC')

  // The whole list is used, not only its head: the last entry long enough to pass the length rule.
  const tail = COMMON.findLast((p) => p.length >= 8)
  t.ok(tail !== undefined && COMMON.indexOf(tail) > 10_000, `an entry beyond the top 10,000 (${tail})`)
  t.equal(code(checkPassword(tail ?? '', 8)), 'ERR_PASSWORD_COMMON', 'an entry from the end of the list is refused')

  t.equal(code(checkPassword('correct horse battery staple', 8)), 'ok', 'a password absent from the list passes')
})
