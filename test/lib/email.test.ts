// The address grammar (HTML "valid e-mail address", with a dot in the host) and the normalisation in front of it.
import t from 'tap'
import { isValidEmail, normalizeEmail } from '../../src/lib/email'

t.test('addresses of the grammar are kept, in normal form', async (t) => {
  const cases: Array<[string, string]> = [
    ['alice@example.com', 'alice@example.com'],
    ['  Alice@Example.COM ', 'alice@example.com'],
    ['ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ', 'alice@example.com'],
    ["o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"],
    ['a.b-c_d@x-y.example', 'a.b-c_d@x-y.example'],
    ["!#$%&'*+/=?^_`{|}~-@example.org", "!#$%&'*+/=?^_`{|}~-@example.org"],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
    [`a@${'b'.repeat(63)}.com`, `a@${'b'.repeat(63)}.com`]
  ]
  for (const [input, expected] of cases) t.equal(normalizeEmail(input), expected, JSON.stringify(input))
})

t.test('finding 3: anything a mail library could read as a list, a name or a route is refused', async (t) => {
  const refused = [
    'victim@example.com,x1.org', 'victim@example.com;x3.org', '(a)victim@example.com', 'victim(a)@example.com', '"victim"@example.com',
    'Victim <victim@example.com>', '<victim@example.com>', 'victim@example.com victim@x.org', 'a@b@example.com',
    'victim@[127.0.0.1]', 'victim@example.com:25', 'victim\\@example.com', 'a@b', 'a@localhost', 'a@-b.com', 'a@b-.com', 'a@b..com',
    'a@.b.com', 'a@b.com.', 'a@b_c.com', `a@${'b'.repeat(64)}.com`, `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(58)}.com`,
    'josé@example.com', 'a@bücher.de', 'a@example.com\u0000', 'a\u200b@example.com', 'sur\ud800@example.com', '@example.com', 'a@', ''
  ]
  for (const input of refused) {
    t.equal(normalizeEmail(input), null, JSON.stringify(input))
    t.equal(isValidEmail(input), false, `isValidEmail ${JSON.stringify(input)}`)
  }
  t.equal(normalizeEmail('victim@example.com\uFF0Cx1.org'), null, 'a fullwidth comma is refused after NFKC turns it into ","')
})

t.test('isValidEmail checks the string as given (no trimming or case folding: stored addresses are already normal)', async (t) => {
  t.equal(isValidEmail('alice@example.com'), true)
  t.equal(isValidEmail(' alice@example.com'), false)
  t.equal(isValidEmail('ａlice@example.com'), false)
})
