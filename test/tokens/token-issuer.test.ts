// TokenIssuer: exact headers and claim sets, times from the injected clock, size, jti uniqueness and the session cap.
import { generateKeyPairSync, verify } from 'node:crypto'
import t from 'tap'
import { ManualClock, nowSeconds } from '../../src/clock'
import { asymmetricKey, hmacKey, thumbprintKid, type SigningKey } from '../../src/keys/key'
import { KeyRing } from '../../src/keys/key-ring'
import { newId, newSessionId } from '../../src/lib/ids'
import type { Role } from '../../src/store/user-store'
import { isAccessClaims, isRefreshClaims } from '../../src/tokens/claims'
import { TokenIssuer } from '../../src/tokens/token-issuer'
import { makeKey, START, testConfig } from '../support/app'

const config = testConfig()

function setup (keys: SigningKey[] = [makeKey()]) {
  const clock = new ManualClock(START)
  const ring = new KeyRing(keys, { clock, verifyGraceMs: 0 })
  const { issuer, audience, accessTtl, refreshTtl, sessionMaxAge } = config.jwt
  const tokens = new TokenIssuer(() => ring, { issuer, audience, accessTtl, refreshTtl, sessionMaxAge }, clock)
  return { clock, ring, tokens, key: keys[0] }
}

const user = (role: Role = 'user') => ({ id: newId(), role, tokenVersion: 3 })
const SID = newSessionId()
const session = (authTime: number, counter = 0) => ({ id: SID, authTime, counter })

function parts (token: string): { header: Record<string, unknown>, claims: Record<string, unknown>, input: string, signature: Buffer } {
  const [h, p, s] = token.split('.')
  const json = (seg: string) => JSON.parse(Buffer.from(seg, 'base64url').toString('utf8')) as Record<string, unknown>
  return { header: json(h), claims: json(p), input: `${h}.${p}`, signature: Buffer.from(s, 'base64url') }
}

t.test('access and refresh headers are exactly { alg, typ, kid }', async (t) => {
  const { tokens, key } = setup()
  const issued = tokens.issue(user(), session(START / 1000))
  t.strictSame(parts(issued.accessToken).header, { alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })
  t.strictSame(parts(issued.refreshToken).header, { alg: 'EdDSA', typ: 'rt+jwt', kid: key.kid })
  // Key order too: it is what a reader of the raw token sees.
  t.strictSame(Object.keys(parts(issued.accessToken).header), ['alg', 'typ', 'kid'])
})

t.test('the signatures verify with the public key', async (t) => {
  const { tokens, key } = setup()
  const issued = tokens.issue(user(), session(START / 1000))
  for (const token of [issued.accessToken, issued.refreshToken]) {
    const { input, signature } = parts(token)
    t.ok(verify(null, Buffer.from(input), key.verifyKey, signature))
  }
})

t.test('access claims are exactly [iss, aud, sub, role, sid, iat, exp, jti], times from the injected clock', async (t) => {
  const { tokens, clock } = setup()
  clock.set(START + 12_345) // not on a second boundary: iat is floored
  const u = user('admin')
  const issued = tokens.issue(u, session(START / 1000))
  const { claims } = parts(issued.accessToken)
  t.strictSame(Object.keys(claims), ['iss', 'aud', 'sub', 'role', 'sid', 'iat', 'exp', 'jti'])
  const now = Math.floor((START + 12_345) / 1000)
  t.match(claims, { iss: config.jwt.issuer, aud: config.jwt.audience, sub: u.id, role: 'admin', sid: SID, iat: now, exp: now + config.jwt.accessTtl })
  t.equal(issued.sessionId, SID)
  t.type(claims.jti, 'string')
  t.equal(issued.expiresIn, config.jwt.accessTtl)
  t.ok(isAccessClaims.Check(claims), 'the verifier\'s schema accepts what the issuer signs')
})

t.test('refresh claims are exactly [iss, aud, sub, ver, sid, ctr, auth_time, iat, exp, jti] with aud === issuer', async (t) => {
  const { tokens, clock } = setup()
  clock.advance(60_000)
  const u = user()
  const authTime = START / 1000
  const issued = tokens.issue(u, session(authTime, 7))
  const { claims } = parts(issued.refreshToken)
  t.strictSame(Object.keys(claims), ['iss', 'aud', 'sub', 'ver', 'sid', 'ctr', 'auth_time', 'iat', 'exp', 'jti'])
  const now = nowSeconds(clock)
  t.match(claims, {
    iss: config.jwt.issuer, aud: config.jwt.issuer, sub: u.id, ver: 3, sid: SID, ctr: 7, auth_time: authTime, iat: now, exp: now + config.jwt.refreshTtl
  })
  t.equal(claims.aud, claims.iss, 'RFC 8725 §3.12: a downstream service checking aud refuses a refresh token')
  t.not(claims.aud, config.jwt.audience)
  t.equal(issued.refreshExpiresIn, config.jwt.refreshTtl)
  t.ok(isRefreshClaims.Check(claims))
})

// 350 before every token carried its session id; `sid` adds 33 bytes, and issue #14 allows 400.
t.test('an access token for an admin stays under 400 bytes (EdDSA and ES256)', async (t) => {
  const es256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const esKey = asymmetricKey(
    { kid: thumbprintKid(es256.export({ format: 'jwk' })), alg: 'ES256', createdAt: 0, signsFrom: 0, retiredAt: null },
    es256.export({ format: 'pem', type: 'pkcs8' }).toString()
  )
  for (const key of [makeKey(), esKey]) {
    const { tokens } = setup([key])
    const { accessToken } = tokens.issue(user('admin'), session(START / 1000))
    const bytes = Buffer.byteLength(accessToken)
    t.ok(bytes < 400, `${key.alg} access token is ${bytes} bytes`)
  }
})

t.test('jti is unique across 1000 issues (access and refresh together)', async (t) => {
  const { tokens } = setup()
  const u = user()
  const seen = new Set<unknown>()
  for (let i = 0; i < 1000; i++) {
    // Same user, same second: only the jti tells the tokens apart.
    const issued = tokens.issue(u, session(START / 1000))
    seen.add(parts(issued.accessToken).claims.jti)
    seen.add(parts(issued.refreshToken).claims.jti)
  }
  t.equal(seen.size, 2000)
})

t.test('the refresh token never outlives auth_time + SESSION_MAX_AGE', async (t) => {
  const { tokens, clock } = setup()
  const { refreshTtl, sessionMaxAge } = config.jwt
  t.ok(sessionMaxAge > refreshTtl, 'defaults: 90 d session, 30 d refresh')
  const authTime = START / 1000

  // Early in the session: the full refresh TTL.
  let issued = tokens.issue(user(), session(authTime))
  t.equal(parts(issued.refreshToken).claims.exp, authTime + refreshTtl)

  // 1000 s before the session's end: capped, and refreshExpiresIn says so.
  clock.set((authTime + sessionMaxAge - 1000) * 1000)
  issued = tokens.issue(user(), session(authTime))
  const { claims } = parts(issued.refreshToken)
  t.equal(claims.exp, authTime + sessionMaxAge)
  t.equal(claims.auth_time, authTime, 'auth_time is carried, not reset')
  t.equal(issued.refreshExpiresIn, 1000)
  // The access token is not capped by the session (it lives minutes; refresh is what the cap stops).
  t.equal(parts(issued.accessToken).claims.exp, nowSeconds(clock) + config.jwt.accessTtl)
})

t.test('after rotation the new key signs: its kid and alg in the header', async (t) => {
  const first = makeKey(0)
  const second = makeKey(START + 600_000)
  const { tokens, clock } = setup([first, second])
  t.equal(parts(tokens.issue(user(), session(START / 1000)).accessToken).header.kid, first.kid)
  clock.advance(600_000)
  const { header } = parts(tokens.issue(user(), session(START / 1000)).accessToken)
  t.strictSame(header, { alg: 'EdDSA', typ: 'at+jwt', kid: second.kid })
})

t.test('HS256: the header names the secret\'s hashed kid, never the secret', async (t) => {
  const secret = 's'.repeat(40)
  const { tokens } = setup([hmacKey(secret, START)])
  const { accessToken, refreshToken } = tokens.issue(user(), session(START / 1000))
  const { header } = parts(accessToken)
  t.match(header, { alg: 'HS256', typ: 'at+jwt', kid: /^hs-/ })
  t.strictSame(parts(refreshToken).header, { alg: 'HS256', typ: 'rt+jwt', kid: header.kid })
  t.notOk(accessToken.includes(Buffer.from(secret).toString('base64url')))
})
