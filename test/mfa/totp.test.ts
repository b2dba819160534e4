// The TOTP check against oathtool (Debian's liboath): the codes our checker accepts are the ones an outside
// authenticator shows, step by step, and nothing else.
import t from 'tap'
import { matchingStep, newTotpSecret, otpauthUri, timeStep } from '../../src/mfa/totp'
import { requireService } from '../support/services'
import { oathtool } from '../support/totp'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)

t.test('RFC 6238 Appendix B vector: oathtool and the checker agree on the reference secret', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  // "12345678901234567890" in base32; the RFC's SHA-1 value at T = 59 s is 94287082, of which an app shows the last 6.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
  t.equal(oathtool(secret, 59_000), '287082')
  t.equal(matchingStep(secret, '287082', 59_000, null), 1)
})

t.test('for fresh secrets, the code oathtool shows at each step is accepted in that step and the ones beside it', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  for (let i = 0; i < 5; i++) {
    const secret = newTotpSecret()
    const at = T0 + i * 7_919_000
    const code = oathtool(secret, at)
    const step = timeStep(at)
    t.equal(matchingStep(secret, code, at, null), step, 'now')
    t.equal(matchingStep(secret, code, at + 30_000, null), step, 'one step later')
    t.equal(matchingStep(secret, code, at - 30_000, null), step, 'one step earlier')
    t.equal(matchingStep(secret, code, at + 60_000, null), null, 'two steps later')
    t.equal(matchingStep(secret, code, at - 60_000, null), null, 'two steps earlier')
    t.equal(matchingStep(secret, code, at, step), null, 'its step already used')
    t.equal(matchingStep(secret, code, at, step - 1), step, 'an earlier step used')
  }
})

t.test('malformed codes are no match, never an error', async (t) => {
  const secret = newTotpSecret()
  for (const code of ['', '12345', '1234567', '12345a', ' 123456', '١٢٣٤٥٦']) t.equal(matchingStep(secret, code, T0, null), null, JSON.stringify(code))
})

t.test('the otpauth URI says what every app needs: SHA1, 6 digits, 30 s, issuer, account', async (t) => {
  const secret = newTotpSecret()
  t.match(secret, /^[A-Z2-7]{32}$/)
  const uri = new URL(otpauthUri(secret, 'Tessera Dev', 'ada+x@example.com'))
  t.equal(uri.protocol, 'otpauth:')
  t.equal(uri.host, 'totp')
  t.equal(decodeURIComponent(uri.pathname), '/Tessera Dev:ada+x@example.com')
  t.same(Object.fromEntries(uri.searchParams), { issuer: 'Tessera Dev', secret, algorithm: 'SHA1', digits: '6', period: '30' })
})
