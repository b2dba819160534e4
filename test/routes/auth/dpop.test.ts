// DPoP (RFC 9449) at the token endpoints and on protected routes: proofs made by panva's `dpop` package (not ours) bind
// tokens to the client's key, and a bound token is refused without a fresh proof from that key.
import type * as PanvaModule from 'dpop' with { 'resolution-mode': 'import' }
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ManualClock } from '../../../src/clock'
import type { SigningKey } from '../../../src/keys/key'
import { assertProblem, bearer, build, makeKey, PASSWORD, type AuthResultBody, type TestContext } from '../../support/app'
import { ath, claimsOf, dpopInject, INJECT_ORIGIN, makeProof, proofKey, thumbprint } from '../../support/dpop'
import { REDIS_URL, requireService } from '../../support/services'

const panva = async (): Promise<typeof PanvaModule> => await import('dpop')

const WHOAMI = '/v1/auth/whoami'
const url = (path: string): string => INJECT_ORIGIN + path
const DPOP_CHALLENGE = /^DPoP algs="ES256 [^"]*", error="invalid_dpop_proof", error_description="[^"]+"$/
const TOKEN_CHALLENGE = /^DPoP algs="[^"]+", error="invalid_token", error_description="[^"]+"$/

/** Proofs carry the real time (panva's package reads Date.now()), so the app's clock starts there too. */
const buildNow = async (t: Parameters<typeof build>[0], env: Record<string, string> = {}, key?: SigningKey): Promise<TestContext> =>
  await build(t, { clock: new ManualClock(Date.now()), env, ...(key !== undefined ? { key } : {}) })

async function panvaKey (): Promise<{ keyPair: Awaited<ReturnType<typeof PanvaModule.generateKeyPair>>, jkt: string }> {
  const { generateKeyPair } = await panva()
  const keyPair = await generateKeyPair('ES256')
  const { exportJWK } = await import('jose')
  return { keyPair, jkt: await thumbprint(await exportJWK(keyPair.publicKey) as Record<string, unknown>) }
}

async function registerWithProof (ctx: TestContext, proof: string, email = 'alice@example.com') {
  return await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', headers: { dpop: proof }, payload: { email, password: PASSWORD } })
}

t.test('DPOP=optional (default): a client that sends no proof sees no change', async (t) => {
  const ctx = await buildNow(t)
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'a@example.com', password: PASSWORD } })
  t.equal(res.statusCode, 201)
  const body = res.json<AuthResultBody>()
  t.equal(body.tokenType, 'Bearer')
  t.notOk('cnf' in claimsOf(body.accessToken))
  t.notOk('cnf' in claimsOf(body.refreshToken))
  t.equal((await ctx.app.inject({ url: WHOAMI, headers: bearer(body.accessToken) })).statusCode, 200)
  // An unbound token sent with the DPoP scheme is refused: the scheme would promise a binding the token lacks.
  const asDpop = await dpopInject(ctx.app, proofKey(), body.accessToken, 'GET', WHOAMI)
  assertProblem(t, asDpop, 401, 'ERR_DPOP_PROOF_INVALID')
  t.match(asDpop.headers['www-authenticate'], TOKEN_CHALLENGE)
})

t.test('a proof from panva\'s dpop package binds both tokens to its key (cnf.jkt, RFC 7638 by jose), and whoami needs the key', async (t) => {
  const ctx = await buildNow(t)
  const { generateProof } = await panva()
  const { keyPair, jkt } = await panvaKey()
  const res = await registerWithProof(ctx, await generateProof(keyPair, url('/v1/auth/register'), 'POST'))
  t.equal(res.statusCode, 201, res.body)
  const body = res.json<AuthResultBody>()
  t.equal(body.tokenType, 'DPoP')
  t.same(claimsOf(body.accessToken).cnf, { jkt })
  t.same(claimsOf(body.refreshToken).cnf, { jkt })

  // Twice, so the second is a hit of the verified-token cache: it still needs its proof.
  for (let i = 0; i < 2; i++) {
    const ok = await ctx.app.inject({
      url: WHOAMI,
      headers: { authorization: `DPoP ${body.accessToken}`, dpop: await generateProof(keyPair, url(WHOAMI), 'GET', undefined, body.accessToken) }
    })
    t.equal(ok.statusCode, 200, ok.body)
    t.equal(ok.json().sub, body.user.id)
  }
  const asBearer = await ctx.app.inject({ url: WHOAMI, headers: bearer(body.accessToken) })
  assertProblem(t, asBearer, 401, 'ERR_DPOP_PROOF_INVALID')
  t.match(asBearer.headers['www-authenticate'], TOKEN_CHALLENGE)
  const noProof = await ctx.app.inject({ url: WHOAMI, headers: { authorization: `DPoP ${body.accessToken}` } })
  assertProblem(t, noProof, 401, 'ERR_DPOP_PROOF_INVALID')
  t.match(noProof.headers['www-authenticate'], DPOP_CHALLENGE)
  // A copy of the token used with another key: the thief's own proof is refused.
  const thief = await dpopInject(ctx.app, proofKey(), body.accessToken, 'GET', WHOAMI)
  assertProblem(t, thief, 401, 'ERR_DPOP_PROOF_INVALID')
  t.match(thief.headers['www-authenticate'], DPOP_CHALLENGE)
})

t.test('a bound refresh token refreshes only with a proof from its key, and the new tokens stay bound', async (t) => {
  const ctx = await buildNow(t)
  const key = proofKey('EdDSA')
  const jkt = await thumbprint(key.publicJwk)
  const reg = await registerWithProof(ctx, await makeProof(key, { htm: 'POST', htu: url('/v1/auth/register') }))
  const { refreshToken } = reg.json<AuthResultBody>()
  const refresh = async (headers: Record<string, string>) =>
    await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', headers, payload: { refreshToken } })

  const none = await refresh({})
  assertProblem(t, none, 400, 'ERR_DPOP_PROOF_INVALID')
  t.notOk(none.headers['www-authenticate'], 'a token endpoint answers 400 without a challenge (RFC 9449 §5)')
  assertProblem(t, await refresh({ dpop: await makeProof(proofKey(), { htm: 'POST', htu: url('/v1/auth/refresh') }) }), 400, 'ERR_DPOP_PROOF_INVALID')

  const ok = await refresh({ dpop: await makeProof(key, { htm: 'POST', htu: url('/v1/auth/refresh') }) })
  t.equal(ok.statusCode, 200, ok.body)
  const body = ok.json<AuthResultBody>()
  t.equal(body.tokenType, 'DPoP')
  t.same(claimsOf(body.accessToken).cnf, { jkt })
  t.same(claimsOf(body.refreshToken).cnf, { jkt })
  t.equal((await dpopInject(ctx.app, key, body.accessToken, 'GET', WHOAMI)).statusCode, 200)
})

t.test('login and a password change bind to the proof\'s key as well', async (t) => {
  const ctx = await buildNow(t)
  await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'a@example.com', password: PASSWORD } })
  const key = proofKey('RS256')
  const jkt = await thumbprint(key.publicJwk)
  const login = await ctx.app.inject({
    method: 'POST', url: '/v1/auth/login', headers: { dpop: await makeProof(key, { htm: 'POST', htu: url('/v1/auth/login') }) },
    payload: { email: 'a@example.com', password: PASSWORD }
  })
  t.equal(login.statusCode, 200, login.body)
  const { accessToken } = login.json<AuthResultBody>()
  t.same(claimsOf(accessToken).cnf, { jkt })
  const changed = await dpopInject(ctx.app, key, accessToken, 'PUT', '/v1/me/password', Date.now(),
    { currentPassword: PASSWORD, newPassword: PASSWORD + 'x' })
  t.equal(changed.statusCode, 200, changed.body)
  const body = changed.json<AuthResultBody>()
  t.equal(body.tokenType, 'DPoP')
  t.same(claimsOf(body.accessToken).cnf, { jkt })
  t.same(claimsOf(body.refreshToken).cnf, { jkt })
})

t.test('DPOP=required: token requests without a proof are refused, and Bearer tokens are neither issued nor accepted', async (t) => {
  const ctx = await buildNow(t, { DPOP: 'required' })
  const bare = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'a@example.com', password: PASSWORD } })
  assertProblem(t, bare, 400, 'ERR_DPOP_PROOF_INVALID')
  t.equal(await ctx.store.findByEmail('a@example.com'), null, 'and no account was created')

  const key = proofKey()
  const reg = await registerWithProof(ctx, await makeProof(key, { htm: 'POST', htu: url('/v1/auth/register') }))
  t.equal(reg.statusCode, 201, reg.body)
  t.equal(reg.json<AuthResultBody>().tokenType, 'DPoP')
  const login = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  assertProblem(t, login, 400, 'ERR_DPOP_PROOF_INVALID')

  // A Bearer token from before the switch (same signing key, DPOP=optional then) is refused.
  const signing = makeKey()
  const before = await buildNow(t, {}, signing)
  const after = await buildNow(t, { DPOP: 'required' }, signing)
  const old = await before.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'b@example.com', password: PASSWORD } })
  const { accessToken } = old.json<AuthResultBody>()
  t.equal((await before.app.inject({ url: WHOAMI, headers: bearer(accessToken) })).statusCode, 200)
  const refused = await after.app.inject({ url: WHOAMI, headers: bearer(accessToken) })
  assertProblem(t, refused, 401, 'ERR_DPOP_PROOF_INVALID')
  t.match(refused.headers['www-authenticate'], TOKEN_CHALLENGE)
})

t.test('DPOP=off: proofs are ignored and tokens stay Bearer', async (t) => {
  const ctx = await buildNow(t, { DPOP: 'off' })
  const reg = await registerWithProof(ctx, await makeProof(proofKey(), { htm: 'POST', htu: url('/v1/auth/register') }))
  t.equal(reg.statusCode, 201)
  t.equal(reg.json<AuthResultBody>().tokenType, 'Bearer')
  t.notOk('cnf' in claimsOf(reg.json<AuthResultBody>().accessToken))
})

t.test('DPOP_NONCE=on: a proof without the server\'s nonce gets use_dpop_nonce and a DPoP-Nonce to retry with', async (t) => {
  const ctx = await buildNow(t, { DPOP_NONCE: 'on' })
  const { generateProof } = await panva()
  const { keyPair } = await panvaKey()
  const first = await registerWithProof(ctx, await generateProof(keyPair, url('/v1/auth/register'), 'POST'))
  assertProblem(t, first, 400, 'ERR_DPOP_NONCE_REQUIRED')
  const nonce = first.headers['dpop-nonce']
  t.match(nonce, /^[A-Za-z0-9_-]{43}$/)
  t.equal(await ctx.store.findByEmail('alice@example.com'), null)
  const second = await registerWithProof(ctx, await generateProof(keyPair, url('/v1/auth/register'), 'POST', nonce as string))
  t.equal(second.statusCode, 201, second.body)
  const { accessToken } = second.json<AuthResultBody>()

  const noNonce = await ctx.app.inject({
    url: WHOAMI, headers: { authorization: `DPoP ${accessToken}`, dpop: await generateProof(keyPair, url(WHOAMI), 'GET', undefined, accessToken) }
  })
  assertProblem(t, noNonce, 401, 'ERR_DPOP_NONCE_REQUIRED')
  t.match(noNonce.headers['www-authenticate'], /^DPoP algs="[^"]+", error="use_dpop_nonce"/)
  const retried = await ctx.app.inject({
    url: WHOAMI,
    headers: { authorization: `DPoP ${accessToken}`, dpop: await generateProof(keyPair, url(WHOAMI), 'GET', noNonce.headers['dpop-nonce'] as string, accessToken) }
  })
  t.equal(retried.statusCode, 200, retried.body)
  // Nonces are derived, not stored: one that is not the server's is refused like a missing one.
  const forged = await ctx.app.inject({
    url: WHOAMI, headers: { authorization: `DPoP ${accessToken}`, dpop: await generateProof(keyPair, url(WHOAMI), 'GET', 'A'.repeat(43), accessToken) }
  })
  assertProblem(t, forged, 401, 'ERR_DPOP_NONCE_REQUIRED')
})

t.test('behind a proxy, htu is checked against EXTERNAL_URL and the path below it', async (t) => {
  const ctx = await buildNow(t, { EXTERNAL_URL: 'https://auth.example.com/api/' })
  const key = proofKey()
  const reg = await registerWithProof(ctx, await makeProof(key, { htm: 'POST', htu: 'https://auth.example.com/api/v1/auth/register' }))
  t.equal(reg.statusCode, 201, reg.body)
  const { accessToken } = reg.json<AuthResultBody>()
  const as = async (htu: string) => await ctx.app.inject({
    url: WHOAMI, headers: { authorization: `DPoP ${accessToken}`, dpop: await makeProof(key, { htm: 'GET', htu, ath: ath(accessToken) }) }
  })
  t.equal((await as('https://auth.example.com/api/v1/auth/whoami')).statusCode, 200)
  t.equal((await as('HTTPS://AUTH.example.com:443/api/v1/auth/whoami')).statusCode, 200, 'compared after RFC 3986 normalisation')
  assertProblem(t, await as(url(WHOAMI)), 401, 'ERR_DPOP_PROOF_INVALID')
  assertProblem(t, await as('http://auth.example.com/api/v1/auth/whoami'), 401, 'ERR_DPOP_PROOF_INVALID')

  const plain = await buildNow(t, { EXTERNAL_URL: 'https://auth.example.com' })
  const res = await registerWithProof(plain, await makeProof(key, { htm: 'POST', htu: 'https://auth.example.com/v1/auth/register' }))
  t.equal(res.statusCode, 201, `an EXTERNAL_URL without a path: ${res.body}`)
})

t.test('with REDIS_URL a proof replayed to another instance is refused there', async (t) => {
  if (!await requireService(t, 'redis')) return
  const signing = makeKey()
  const a = await buildNow(t, { REDIS_URL }, signing)
  const b = await buildNow(t, { REDIS_URL }, signing)
  const key = proofKey()
  const reg = await registerWithProof(a, await makeProof(key, { htm: 'POST', htu: url('/v1/auth/register') }))
  const { accessToken } = reg.json<AuthResultBody>()
  const proof = await makeProof(key, { htm: 'GET', htu: url(WHOAMI), ath: ath(accessToken) })
  const headers = { authorization: `DPoP ${accessToken}`, dpop: proof }
  t.equal((await a.app.inject({ url: WHOAMI, headers })).statusCode, 200)
  const replay = await b.app.inject({ url: WHOAMI, headers })
  assertProblem(t, replay, 401, 'ERR_DPOP_PROOF_INVALID')
  t.match(replay.json().detail, /used already/)
})

t.test('the proof script of docs/clients.md makes proofs Tessera accepts (register, then whoami with ath)', async (t) => {
  const doc = readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'clients.md'), 'utf8')
  const block = /<!-- dpop-proof-script -->\s*```js\n([\s\S]*?)\n```/.exec(doc)
  if (block === null) throw new Error('docs/clients.md has no ```js block after <!-- dpop-proof-script -->')
  const dir = t.testdir({ 'dpop-proof.mjs': block[1] })
  const proof = (...args: string[]): string =>
    execFileSync(process.execPath, ['dpop-proof.mjs', ...args], { cwd: dir, encoding: 'utf8', timeout: 10_000 }).trim()
  const ctx = await buildNow(t)
  const reg = await registerWithProof(ctx, proof('POST', url('/v1/auth/register')))
  t.equal(reg.statusCode, 201, reg.body)
  const { accessToken, tokenType } = reg.json<AuthResultBody>()
  t.equal(tokenType, 'DPoP')
  const res = await ctx.app.inject({ url: WHOAMI, headers: { authorization: `DPoP ${accessToken}`, dpop: proof('GET', url(WHOAMI), accessToken) } })
  t.equal(res.statusCode, 200, res.body)
  t.ok(existsSync(path.join(dir, 'dpop-key.pem')), 'the key is kept for the next proof')
})
