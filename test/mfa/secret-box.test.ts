// AES-256-GCM at rest: a sealed secret opens only with its key and for its user; the key file is private and shared.
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { loadOrCreateMfaKey, MFA_KEY_FILE } from '../../src/mfa/mfa-key'
import { normalizeRecoveryCode, newRecoveryCodes } from '../../src/mfa/recovery-codes'
import { SecretBox, SecretBoxError } from '../../src/mfa/secret-box'

const box = new SecretBox(randomBytes(32))

t.test('seal and open: a fresh IV each time, bound to the user', async (t) => {
  const a = box.seal('JBSWY3DPEHPK3PXP', 'user-1')
  const b = box.seal('JBSWY3DPEHPK3PXP', 'user-1')
  t.not(a, b, 'two seals of one value differ')
  t.notOk(a.includes('JBSWY3DPEHPK3PXP'))
  t.equal(box.open(a, 'user-1'), 'JBSWY3DPEHPK3PXP')
  t.throws(() => box.open(a, 'user-2'), SecretBoxError, 'moved to another user, it does not open')
  t.throws(() => new SecretBox(randomBytes(32)).open(a, 'user-1'), SecretBoxError, 'another key')
  const [v, iv, body] = a.split('.')
  const flipped = Buffer.from(body, 'base64url')
  flipped[0] ^= 1
  t.throws(() => box.open(`${v}.${iv}.${flipped.toString('base64url')}`, 'user-1'), SecretBoxError, 'altered')
  for (const bad of ['', 'v1', 'v1.x', 'v2.a.b', 'v1.a.b.c']) t.throws(() => box.open(bad, 'user-1'), SecretBoxError, JSON.stringify(bad))
})

t.test('recovery-code hashes: keyed, per user, deterministic', async (t) => {
  t.equal(box.hashCode('u', 'ABCD'), box.hashCode('u', 'ABCD'))
  t.not(box.hashCode('u', 'ABCD'), box.hashCode('v', 'ABCD'))
  t.not(box.hashCode('u', 'ABCD'), new SecretBox(randomBytes(32)).hashCode('u', 'ABCD'))
})

t.test('recovery codes: ten, distinct, 80 bits each, and each normalizes to itself without hyphens', async (t) => {
  const codes = newRecoveryCodes()
  t.equal(codes.length, 10)
  t.equal(new Set(codes).size, 10)
  for (const code of codes) t.equal(normalizeRecoveryCode(code), code.replaceAll('-', ''))
  t.equal(normalizeRecoveryCode('abcd-efgh-jkmn-pq01'), 'ABCDEFGHJKMNPQ01')
  t.equal(normalizeRecoveryCode('oiL0-0000-0000-0000'), '0110000000000000', 'O, I and L read as digits')
  for (const bad of ['', 'ABCD', 'ABCD-EFGH-JKMN-PQRSX', 'UUUU-0000-0000-0000', 'ABCD-EFGH-JKMN-PQ!1']) t.equal(normalizeRecoveryCode(bad), null, bad)
})

t.test('the key file: created 0600 once, then read; refused when others can read it or it is not 32 bytes', async (t) => {
  const dir = path.join(t.testdir(), 'keys')
  const first = loadOrCreateMfaKey(dir)
  t.equal(first.length, 32)
  const file = path.join(dir, MFA_KEY_FILE)
  t.equal(statSync(file).mode & 0o777, 0o600)
  t.same(loadOrCreateMfaKey(dir), first, 'the second start reads the same key')
  t.same(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), first)
  chmodSync(file, 0o644)
  t.throws(() => loadOrCreateMfaKey(dir), /readable by group or others/)
  chmodSync(file, 0o600)
  writeFileSync(file, 'c2hvcnQ=\n')
  t.throws(() => loadOrCreateMfaKey(dir), /32 bytes/)
})
