// The forged-token table's DPoP rows: hostile proofs, built by hand so no library normalises them, presented with a
// token bound to the honest key. Each is refused with its exact status, problem code and challenge; the honest
// proof is accepted, so no row passes for a reason other than the one it names.
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { assertProblem, build, PASSWORD, type AuthResultBody, type TestContext } from '../support/app'
import { INJECT_ORIGIN, thumbprint } from '../support/dpop'

const ALGS = 'ES256 ES384 EdDSA Ed25519 RS256 PS256'
const WHOAMI = '/v1/auth/whoami'
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

interface EcKey { privateKey: KeyObject, jwk: Record<string, unknown>, privateJwk: Record<string, unknown> }
function ecKey (): EcKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, jwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>, privateJwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown> }
}
const es256 = (key: KeyObject) => (input: string): string => sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')

function forge (header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: string) => string): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${signer(input)}`
}

const athOf = (token: string): string => createHash('sha256').update(token).digest('base64url')

interface Setup { ctx: TestContext, key: EcKey, token: string, refreshToken: string, now: number }

async function setup (t: Parameters<typeof build>[0]): Promise<Setup> {
  const ctx = await build(t)
  const key = ecKey()
  const now = Math.floor(ctx.clock.now() / 1000)
  const proof = forge({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk }, { jti: randomUUID(), htm: 'POST', htu: `${INJECT_ORIGIN}/v1/auth/register`, iat: now }, es256(key.privateKey))
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', headers: { dpop: proof }, payload: { email: 'alice@example.com', password: PASSWORD } })
  if (res.statusCode !== 201) throw new Error(res.body)
  const body = res.json<AuthResultBody>()
  return { ctx, key, token: body.accessToken, refreshToken: body.refreshToken, now }
}

/** An honest proof for whoami with `token`, then `change` applied to header, payload or signer. */
interface Parts { header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: string) => string }
function proofFor (s: Setup, change: (p: Parts) => void = () => {}): string {
  const parts: Parts = {
    header: { typ: 'dpop+jwt', alg: 'ES256', jwk: s.key.jwk },
    payload: { jti: randomUUID(), htm: 'GET', htu: INJECT_ORIGIN + WHOAMI, iat: s.now, ath: athOf(s.token) },
    signer: es256(s.key.privateKey)
  }
  change(parts)
  return forge(parts.header, parts.payload, parts.signer)
}

const whoami = async (s: Setup, proof?: string | string[]) =>
  await s.ctx.app.inject({ url: WHOAMI, headers: { authorization: `DPoP ${s.token}`, ...(proof !== undefined ? { dpop: proof } : {}) } })

const DETAIL = {
  missing: 'Send a DPoP proof in the DPoP header',
  multiple: 'Send exactly one DPoP header',
  tooLong: 'The DPoP proof is too long',
  malformed: 'The DPoP proof is not a well-formed JWT with a public jwk, jti, htm, htu and iat',
  typ: 'The DPoP proof must have typ dpop+jwt',
  alg: 'The DPoP proof must be signed with one of ES256, ES384, EdDSA, Ed25519, RS256, PS256',
  private: 'The DPoP proof jwk must be a public key',
  signature: 'The DPoP proof signature does not match its jwk',
  htm: 'The DPoP proof htm does not match the request method',
  htu: 'The DPoP proof htu does not match the request URL (scheme, host and path, without query or fragment)',
  stale: 'The DPoP proof is too old (iat)',
  future: 'The DPoP proof is dated in the future (iat)',
  replayed: 'The DPoP proof was used already (jti)',
  ath: 'The DPoP proof ath does not match the access token',
  wrongKey: 'The DPoP proof is signed by another key than the one the token is bound to'
} as const

const ROWS: Array<[name: string, make: (s: Setup) => string | string[] | undefined, detail: string]> = [
  ['no proof', () => undefined, DETAIL.missing],
  ['alg none, no signature', (s) => proofFor(s, (p) => { p.header.alg = 'none'; p.signer = () => '' }), DETAIL.alg],
  ['HMAC (HS256) keyed with the public jwk', (s) => proofFor(s, (p) => {
    p.header.alg = 'HS256'
    p.signer = (input) => createHmac('sha256', JSON.stringify(s.key.jwk)).update(input).digest('base64url')
  }), DETAIL.alg],
  ['a private jwk (d) in the header', (s) => proofFor(s, (p) => { p.header.jwk = s.key.privateJwk }), DETAIL.private],
  ['a symmetric jwk (oct, k)', (s) => proofFor(s, (p) => { p.header.jwk = { kty: 'oct', k: 'c2VjcmV0' } }), DETAIL.private],
  ['a jwk that did not make the signature', (s) => proofFor(s, (p) => { p.header.jwk = ecKey().jwk }), DETAIL.signature],
  // The honest header is cached by now (its key imported once): the signature is still checked against it.
  ['the honest header, signed by another key', (s) => proofFor(s, (p) => { p.signer = es256(ecKey().privateKey) }), DETAIL.signature],
  ['another key entirely (the thief\'s own)', (s) => proofFor(s, (p) => {
    const thief = ecKey()
    p.header.jwk = thief.jwk
    p.signer = es256(thief.privateKey)
  }), DETAIL.wrongKey],
  ['typ JWT', (s) => proofFor(s, (p) => { p.header.typ = 'JWT' }), DETAIL.typ],
  ['no typ', (s) => proofFor(s, (p) => { delete p.header.typ }), DETAIL.typ],
  ['htm POST for a GET', (s) => proofFor(s, (p) => { p.payload.htm = 'POST' }), DETAIL.htm],
  ['htm get (case matters)', (s) => proofFor(s, (p) => { p.payload.htm = 'get' }), DETAIL.htm],
  ['htu with a query', (s) => proofFor(s, (p) => { p.payload.htu = `${INJECT_ORIGIN}${WHOAMI}?a=1` }), DETAIL.htu],
  ['htu with an empty query', (s) => proofFor(s, (p) => { p.payload.htu = `${INJECT_ORIGIN}${WHOAMI}?` }), DETAIL.htu],
  ['htu with a fragment', (s) => proofFor(s, (p) => { p.payload.htu = `${INJECT_ORIGIN}${WHOAMI}#x` }), DETAIL.htu],
  ['htu of another host', (s) => proofFor(s, (p) => { p.payload.htu = `http://evil.example${WHOAMI}` }), DETAIL.htu],
  ['htu with a trailing slash', (s) => proofFor(s, (p) => { p.payload.htu = `${INJECT_ORIGIN}${WHOAMI}/` }), DETAIL.htu],
  ['htu with https for an http request', (s) => proofFor(s, (p) => { p.payload.htu = `https://localhost${WHOAMI}` }), DETAIL.htu],
  ['htu of another path', (s) => proofFor(s, (p) => { p.payload.htu = `${INJECT_ORIGIN}/v1/me` }), DETAIL.htu],
  ['htu with user info', (s) => proofFor(s, (p) => { p.payload.htu = `http://user@localhost${WHOAMI}` }), DETAIL.htu],
  ['htu with an empty user info', (s) => proofFor(s, (p) => { p.payload.htu = `http://@localhost${WHOAMI}` }), DETAIL.htu],
  ['htu not an http(s) URL', (s) => proofFor(s, (p) => { p.payload.htu = `ws://localhost${WHOAMI}` }), DETAIL.htu],
  ['iat past DPOP_PROOF_MAX_AGE + CLOCK_TOLERANCE (91 s)', (s) => proofFor(s, (p) => { p.payload.iat = s.now - 91 }), DETAIL.stale],
  ['iat past CLOCK_TOLERANCE in the future (31 s)', (s) => proofFor(s, (p) => { p.payload.iat = s.now + 31 }), DETAIL.future],
  ['iat a string', (s) => proofFor(s, (p) => { p.payload.iat = String(s.now) }), DETAIL.malformed],
  ['no jti', (s) => proofFor(s, (p) => { delete p.payload.jti }), DETAIL.malformed],
  ['no ath', (s) => proofFor(s, (p) => { delete p.payload.ath }), DETAIL.ath],
  ['ath of another token', (s) => proofFor(s, (p) => { p.payload.ath = athOf(s.refreshToken) }), DETAIL.ath],
  ['ath as hex instead of base64url', (s) => proofFor(s, (p) => { p.payload.ath = createHash('sha256').update(s.token).digest('hex') }), DETAIL.ath],
  ['two DPoP headers', (s) => [proofFor(s), proofFor(s)], DETAIL.multiple],
  ['an oversized proof (4,097 characters and more)', (s) => proofFor(s, (p) => { p.payload.pad = 'x'.repeat(4000) }), DETAIL.tooLong],
  ['not a JWS', () => 'not-a-proof', DETAIL.malformed]
]

t.test('hostile proofs at a protected route: 401 ERR_DPOP_PROOF_INVALID with the exact DPoP challenge', async (t) => {
  const s = await setup(t)
  t.equal((await whoami(s, proofFor(s))).statusCode, 200, 'the control: an honest proof is accepted')
  // The edges of the window are inside it.
  t.equal((await whoami(s, proofFor(s, (p) => { p.payload.iat = s.now - 90 }))).statusCode, 200, 'iat 90 s old')
  t.equal((await whoami(s, proofFor(s, (p) => { p.payload.iat = s.now + 30 }))).statusCode, 200, 'iat 30 s ahead')
  for (const [name, make, detail] of ROWS) {
    const res = await whoami(s, make(s))
    t.test(name, async (t) => {
      assertProblem(t, res, 401, 'ERR_DPOP_PROOF_INVALID')
      t.equal(res.json().detail, detail)
      t.equal(res.headers['www-authenticate'], `DPoP algs="${ALGS}", error="invalid_dpop_proof", error_description="${detail}"`)
    })
  }
})

t.test('a replayed proof is refused, and a refused proof uses up nothing', async (t) => {
  const s = await setup(t)
  const jti = randomUUID()
  // Refused first for its htm: its jti is not remembered, so the honest proof with the same jti still passes once.
  const refused = await whoami(s, proofFor(s, (p) => { p.payload.jti = jti; p.payload.htm = 'PUT' }))
  t.equal(refused.statusCode, 401)
  const proof = proofFor(s, (p) => { p.payload.jti = jti })
  t.equal((await whoami(s, proof)).statusCode, 200)
  const replay = await whoami(s, proof)
  assertProblem(t, replay, 401, 'ERR_DPOP_PROOF_INVALID')
  t.equal(replay.headers['www-authenticate'], `DPoP algs="${ALGS}", error="invalid_dpop_proof", error_description="${DETAIL.replayed}"`)
  // The window ends: a proof that old is refused as stale anyway, and the replay cache may forget it.
  s.ctx.clock.advance(91_000)
  t.equal(((await whoami(s, proof)).json()).detail, DETAIL.stale)
})

t.test('two DPoP headers on the wire (a real socket, not inject) are refused', async (t) => {
  const s = await setup(t)
  await s.ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = s.ctx.app.server.address() as AddressInfo
  const htu = `http://127.0.0.1:${port}${WHOAMI}`
  const one = (): string => proofFor(s, (p) => { p.payload.htu = htu })
  const status = await new Promise<{ status: number, challenge: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: WHOAMI, headers: { authorization: `DPoP ${s.token}`, dpop: [one(), one()] } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate']) }))
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(status.status, 401)
  t.equal(status.challenge, `DPoP algs="${ALGS}", error="invalid_dpop_proof", error_description="${DETAIL.multiple}"`)
})

t.test('hostile proofs at a token endpoint: 400 ERR_DPOP_PROOF_INVALID, no challenge, and no tokens', async (t) => {
  const s = await setup(t)
  const refresh = async (proof?: string) => await s.ctx.app.inject({
    method: 'POST', url: '/v1/auth/refresh', headers: proof !== undefined ? { dpop: proof } : {}, payload: { refreshToken: s.refreshToken }
  })
  const honest = (change: (p: Parts) => void = () => {}): string => proofFor(s, (p) => {
    p.payload.htm = 'POST'
    p.payload.htu = `${INJECT_ORIGIN}/v1/auth/refresh`
    delete p.payload.ath
    change(p)
  })
  const rows: Array<[string, string | undefined, string]> = [
    ['no proof for a bound refresh token', undefined, DETAIL.missing],
    ['alg none', honest((p) => { p.header.alg = 'none'; p.signer = () => '' }), DETAIL.alg],
    ['htu of whoami', honest((p) => { p.payload.htu = INJECT_ORIGIN + WHOAMI }), DETAIL.htu],
    ['stale', honest((p) => { p.payload.iat = s.now - 91 }), DETAIL.stale],
    ['another key', honest((p) => { const k = ecKey(); p.header.jwk = k.jwk; p.signer = es256(k.privateKey) }), DETAIL.wrongKey]
  ]
  for (const [name, proof, detail] of rows) {
    const res = await refresh(proof)
    t.test(name, async (t) => {
      assertProblem(t, res, 400, 'ERR_DPOP_PROOF_INVALID')
      t.equal(res.json().detail, detail)
      t.equal(res.headers['www-authenticate'], undefined)
      t.notOk('accessToken' in res.json())
    })
  }
  const ok = await refresh(honest())
  t.equal(ok.statusCode, 200, 'the control: the honest key refreshes')
  t.equal(JSON.parse(Buffer.from(ok.json<AuthResultBody>().accessToken.split('.')[1], 'base64url').toString()).cnf.jkt, await thumbprint(s.key.jwk))
})
