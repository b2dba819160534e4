// openapi.yaml against the running app: every operation is called, and what each answer really carries (status,
// the headers clients act on, the problem code) must be documented on that operation's response.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { parse } from 'yaml'
import { ManualClock } from '../src/clock'
import { createSqliteStore } from '../src/store/sqlite-store'
import { StoreUnavailableError, type UserStore } from '../src/store/user-store'
import { bearer, build, PASSWORD, register, registerAdmin, START } from './support/app'
import { INJECT_ORIGIN, makeProof, proofKey } from './support/dpop'
import { requireService } from './support/services'
import { oathtool } from './support/totp'

interface Response { headers?: Record<string, unknown>, content?: Record<string, { examples?: Record<string, unknown> }> }
interface Operation { operationId?: string, responses?: Record<string, Response> }
interface Document { paths: Record<string, Record<string, Operation>> }

/** Headers a client acts on (caching, retrying, re-authenticating); helmet's and CORS's are the same on every answer. */
const TRACKED = ['cache-control', 'etag', 'retry-after', 'ratelimit', 'ratelimit-policy', 'www-authenticate']

const doc = parse(readFileSync(path.join(__dirname, '..', 'openapi.yaml'), 'utf8')) as Document
const byOperationId = new Map<string, Operation>(
  Object.values(doc.paths).flatMap((item) => Object.values(item)).map((op) => [op.operationId ?? '', op])
)

/** The real store, except that every call fails as an unreachable database does while `down` is set. */
function switchableStore (real: UserStore): { store: UserStore, setDown: (down: boolean) => void } {
  let down = false
  const store = new Proxy(real, {
    get (target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const method = (value as (...args: unknown[]) => unknown).bind(target)
      if (prop === 'close') return method
      return (...args: unknown[]) => down ? Promise.reject(new StoreUnavailableError()) : method(...args)
    }
  })
  return { store, setDown: (d) => { down = d } }
}

t.test('every answer is documented with its status, its headers and its problem code', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const clock = new ManualClock(START)
  const { store, setDown } = switchableStore(createSqliteStore({ path: ':memory:', clock }))
  const ctx = await build(t, { clock, store, env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '3/15m' } })
  const { app } = ctx
  const called = new Set<string>()

  async function check (operationId: string, request: InjectOptions, status: number): Promise<LightMyRequestResponse> {
    const res = await app.inject(request)
    const where = `${operationId} ${res.statusCode}`
    called.add(operationId)
    t.equal(res.statusCode, status, `${operationId}: status ${status} (${res.body.slice(0, 120)})`)
    const response = byOperationId.get(operationId)?.responses?.[String(res.statusCode)]
    if (response === undefined) {
      t.fail(`${where}: the status is not documented`)
      return res
    }
    const documented = Object.keys(response.headers ?? {}).map((h) => h.toLowerCase())
    for (const name of TRACKED) {
      if (res.headers[name] !== undefined) t.ok(documented.includes(name), `${where}: ${name} is sent and documented`)
    }
    if (res.statusCode >= 400) {
      const examples = Object.keys(response.content?.['application/problem+json']?.examples ?? {})
      const code = res.json<{ code: string }>().code
      t.ok(examples.includes(code), `${where}: ${code} has an example (${examples.join(', ')})`)
    }
    return res
  }
  const post = (url: string, payload?: object, headers: Record<string, string> = {}): InjectOptions =>
    ({ method: 'POST', url, headers, ...(payload !== undefined ? { payload } : {}) })

  // Registration and login, with the abuse limits on.
  await check('register', post('/v1/auth/register', { email: 'carol@example.com', password: PASSWORD }), 201)
  await check('register', post('/v1/auth/register', { email: 'carol@example.com', password: PASSWORD }), 409)
  await check('register', post('/v1/auth/register', { email: 'x', password: PASSWORD }), 400)
  await check('register', post('/v1/auth/register', { email: 'dave@example.com', password: 'short' }), 400)
  await check('register', { method: 'POST', url: '/v1/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'hi' }, 415)
  const login = await check('login', post('/v1/auth/login', { email: 'carol@example.com', password: PASSWORD }), 200)
  await check('login', post('/v1/auth/login', { email: 'carol@example.com', password: 'wrong password, wrong' }), 401)
  await check('login', post('/v1/auth/login', { email: 'carol@example.com', password: 'wrong password, wrong' }), 401)
  await check('login', post('/v1/auth/login', { email: 'carol@example.com', password: PASSWORD }), 429)
  await check('refreshTokens', post('/v1/auth/refresh', { refreshToken: 'not-a-token' }), 401)
  const loginRefresh = login.json<{ refreshToken: string }>().refreshToken
  await check('refreshTokens', post('/v1/auth/refresh', { refreshToken: loginRefresh }), 200)
  ctx.clock.advance(60_000)
  await check('refreshTokens', post('/v1/auth/refresh', { refreshToken: loginRefresh }), 401)

  // DPoP: a refused proof at a token endpoint, then a bound token without its proof, and its refresh without one.
  await check('register', post('/v1/auth/register', { email: 'dpop@example.com', password: PASSWORD }, { dpop: 'not-a-proof' }), 400)
  const proof = await makeProof(proofKey(), { htm: 'POST', htu: `${INJECT_ORIGIN}/v1/auth/register` }, {}, ctx.clock.now())
  const bound = await check('register', post('/v1/auth/register', { email: 'dpop@example.com', password: PASSWORD }, { dpop: proof }), 201)
  const boundTokens = bound.json<{ accessToken: string, refreshToken: string }>()
  await check('whoami', { url: '/v1/auth/whoami', headers: bearer(boundTokens.accessToken) }, 401)
  await check('refreshTokens', post('/v1/auth/refresh', { refreshToken: boundTokens.refreshToken }), 400)

  // Bearer routes: each kind of refusal, then success.
  const user = await register(app, 'erin@example.com')
  const auth = bearer(user.accessToken)
  await check('whoami', { url: '/v1/auth/whoami' }, 401)
  await check('whoami', { url: '/v1/auth/whoami', headers: { authorization: 'Bearer a b' } }, 400)
  await check('whoami', { url: '/v1/auth/whoami', headers: bearer('not.a.token') }, 401)
  await check('whoami', { url: '/v1/auth/whoami', headers: auth }, 200)
  await check('getMe', { url: '/v1/me', headers: auth }, 200)
  await check('updateMe', { method: 'PATCH', url: '/v1/me', headers: auth, payload: { name: 'Erin' } }, 200)
  await check('updateMe', { method: 'PATCH', url: '/v1/me', headers: auth, payload: { name: 7 } }, 400)
  await check('changePassword', { method: 'PUT', url: '/v1/me/password', headers: auth, payload: { currentPassword: 'nope', newPassword: PASSWORD } }, 403)
  await check('changePassword', { method: 'PUT', url: '/v1/me/password', headers: auth, payload: { currentPassword: PASSWORD, newPassword: 'short' } }, 400)
  await check('resendVerificationEmail', post('/v1/auth/email/resend', undefined, auth), 202)
  const second = await register(app, 'gina@example.com')
  const other = await app.inject(post('/v1/auth/login', { email: 'gina@example.com', password: PASSWORD, deviceName: 'tablet' }))
  await check('listMySessions', { url: '/v1/me/sessions', headers: bearer(second.accessToken) }, 200)
  await check('listMySecurityEvents', { url: '/v1/me/security-events?limit=2', headers: bearer(second.accessToken) }, 200)
  await check('listMySecurityEvents', { url: '/v1/me/security-events?cursor=nope', headers: bearer(second.accessToken) }, 400)
  await check('endMySession', { method: 'DELETE', url: `/v1/me/sessions/${other.json<{ sessionId: string }>().sessionId}`, headers: bearer(second.accessToken) }, 204)
  await check('endMySession', { method: 'DELETE', url: `/v1/me/sessions/${user.sessionId}`, headers: bearer(second.accessToken) }, 404)
  await check('logoutOthers', post('/v1/auth/logout-others', undefined, bearer(second.accessToken)), 204)
  await check('logout', post('/v1/auth/logout', undefined, bearer(second.accessToken)), 204)
  await check('deleteMe', { method: 'DELETE', url: '/v1/me', headers: auth, payload: { password: 'nope' } }, 403)

  // Two-factor sign-in: enrolment, the second login step, recovery codes, turning off. Codes from oathtool.
  const henry = await register(app, 'henry@example.com')
  const henryAuth = bearer(henry.accessToken)
  await check('confirmTotp', post('/v1/me/mfa/totp/confirm', { code: '123456' }, henryAuth), 409)
  await check('enrolTotp', post('/v1/me/mfa/totp', { password: 'not the password' }, henryAuth), 403)
  const { secret } = (await check('enrolTotp', post('/v1/me/mfa/totp', { password: PASSWORD }, henryAuth), 201)).json<{ secret: string }>()
  await check('confirmTotp', post('/v1/me/mfa/totp/confirm', { code: 'abcdef' }, henryAuth), 400)
  await check('confirmTotp', post('/v1/me/mfa/totp/confirm', { code: oathtool(secret, clock.now() - 5 * 30_000) }, henryAuth), 401)
  await check('confirmTotp', post('/v1/me/mfa/totp/confirm', { code: oathtool(secret, clock.now()) }, henryAuth), 200)
  await check('enrolTotp', post('/v1/me/mfa/totp', { password: PASSWORD }, henryAuth), 409)
  clock.advance(30_000)
  const challenge = await check('login', post('/v1/auth/login', { email: 'henry@example.com', password: PASSWORD }), 200)
  const mfaToken = challenge.json<{ mfaToken: string }>().mfaToken
  await check('verifyMfa', post('/v1/auth/mfa/verify', { mfaToken: 'not.a.token', code: '123456' }), 401)
  await check('verifyMfa', post('/v1/auth/mfa/verify', { mfaToken }), 400)
  await check('verifyMfa', post('/v1/auth/mfa/verify', { mfaToken, code: oathtool(secret, clock.now() - 5 * 30_000) }), 401)
  const henryAgain = await check('verifyMfa', post('/v1/auth/mfa/verify', { mfaToken, code: oathtool(secret, clock.now()) }), 200)
  const henryAgainAuth = bearer(henryAgain.json<{ accessToken: string }>().accessToken)
  clock.advance(30_000)
  await check('regenerateRecoveryCodes', post('/v1/me/mfa/recovery-codes', { code: oathtool(secret, clock.now() - 5 * 30_000) }, henryAgainAuth), 401)
  const codes = (await check('regenerateRecoveryCodes', post('/v1/me/mfa/recovery-codes', { code: oathtool(secret, clock.now()) }, henryAgainAuth), 200))
    .json<{ recoveryCodes: string[] }>().recoveryCodes
  await check('disableMfa', { method: 'DELETE', url: '/v1/me/mfa', headers: henryAgainAuth, payload: {} }, 400)
  await check('disableMfa', { method: 'DELETE', url: '/v1/me/mfa', headers: henryAgainAuth, payload: { recoveryCode: codes[0] } }, 204)
  await check('disableMfa', { method: 'DELETE', url: '/v1/me/mfa', headers: henryAgainAuth, payload: { recoveryCode: codes[1] } }, 409)
  await check('regenerateRecoveryCodes', post('/v1/me/mfa/recovery-codes', { code: '123456' }, henryAgainAuth), 409)

  // Recovery links.
  await check('forgotPassword', post('/v1/auth/password/forgot', { email: 'erin@example.com' }), 202)
  await check('forgotPassword', post('/v1/auth/password/forgot', { email: 'not an address' }), 400)
  await check('resetPassword', post('/v1/auth/password/reset', { token: 'x', newPassword: PASSWORD }), 400)
  await check('verifyEmail', post('/v1/auth/email/verify', { token: 'x' }), 400)

  // Administration.
  await check('listUsers', { url: '/v1/users', headers: auth }, 403)
  const admin = bearer((await registerAdmin(ctx)).accessToken)
  await check('listUsers', { url: '/v1/users', headers: admin }, 200)
  await check('listUsers', { url: '/v1/users?cursor=bogus', headers: admin }, 400)
  await check('getUser', { url: `/v1/users/${user.user.id}`, headers: admin }, 200)
  await check('getUser', { url: '/v1/users/unknown', headers: admin }, 404)
  await check('updateUser', { method: 'PATCH', url: `/v1/users/${user.user.id}`, headers: admin, payload: {} }, 400)
  await check('updateUser', { method: 'PATCH', url: `/v1/users/${user.user.id}`, headers: admin, payload: { disabled: true } }, 200)
  await check('listUserSessions', { url: `/v1/users/${user.user.id}/sessions`, headers: admin }, 200)
  await check('listUserSessions', { url: '/v1/users/unknown/sessions', headers: admin }, 404)
  await check('listUserSecurityEvents', { url: `/v1/users/${user.user.id}/security-events`, headers: admin }, 200)
  await check('listUserSecurityEvents', { url: '/v1/users/unknown/security-events', headers: admin }, 404)
  await check('listUserSecurityEvents', { url: `/v1/users/${user.user.id}/security-events?limit=0`, headers: admin }, 400)
  await check('endUserSessions', { method: 'DELETE', url: `/v1/users/${user.user.id}/sessions`, headers: admin }, 204)
  await check('resetUserMfa', { method: 'DELETE', url: `/v1/users/${user.user.id}/mfa`, headers: admin }, 409)
  await check('resetUserMfa', { method: 'DELETE', url: '/v1/users/unknown/mfa', headers: admin }, 404)
  const ida = await register(app, 'ida@example.com')
  const idaSecret = (await app.inject(post('/v1/me/mfa/totp', { password: PASSWORD }, bearer(ida.accessToken)))).json<{ secret: string }>().secret
  await app.inject(post('/v1/me/mfa/totp/confirm', { code: oathtool(idaSecret, clock.now()) }, bearer(ida.accessToken)))
  await check('resetUserMfa', { method: 'DELETE', url: `/v1/users/${ida.user.id}/mfa`, headers: admin }, 204)
  await check('deleteUser', { method: 'DELETE', url: `/v1/users/${user.user.id}`, headers: admin }, 204)
  await check('logoutAll', post('/v1/auth/logout-all', undefined, admin), 204)

  // Public keys and probes.
  const jwks = await check('getJwks', { url: '/.well-known/jwks.json' }, 200)
  await check('getJwks', { url: '/.well-known/jwks.json', headers: { 'if-none-match': String(jwks.headers.etag) } }, 304)
  await check('getLiveness', { url: '/health/live' }, 200)
  await check('getReadiness', { url: '/health/ready' }, 200)

  // The store goes away: 503 with Retry-After, after the limits (login) or before them.
  const token = (await register(app, 'frank@example.com')).accessToken
  setDown(true)
  await check('getReadiness', { url: '/health/ready' }, 503)
  await check('login', post('/v1/auth/login', { email: 'frank@example.com', password: PASSWORD }), 503)
  await check('getMe', { url: '/v1/me', headers: bearer(token) }, 503)
  setDown(false)

  t.same([...byOperationId.keys()].filter((id) => !called.has(id)), [], 'every documented operation was called')
})
