// The security history: what is recorded at which moment, who can read it, pages, retention, and what a failed write does.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { ManualClock } from '../../../src/clock'
import { createSqliteStore } from '../../../src/store/sqlite-store'
import type { UserStore } from '../../../src/store/user-store'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, START, type AuthResultBody } from '../../support/app'
import { buildWithMail, forgot, isReset, isVerify, NEW_PASSWORD, resetPassword, verifyEmail } from '../../support/mail'
import { tokenFromLink } from '../../support/smtp-sink'
import { until } from '../../support/until'

interface EventBody { id: string, type: string, createdAt: string, ip: string | null, deviceName: string | null, sessionId: string | null, actorId: string | null, detail: string | null }
interface Page { items: EventBody[], nextCursor: string | null }

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'
const EMAIL = 'alice@example.com'

async function events (app: FastifyInstance, token: string, query = ''): Promise<Page> {
  const res = await app.inject({ method: 'GET', url: `/v1/me/security-events${query}`, headers: bearer(token) })
  if (res.statusCode !== 200) throw new Error(`security-events: ${res.statusCode} ${res.body}`)
  return res.json<Page>()
}

const login = (app: FastifyInstance, password = PASSWORD, headers: Record<string, string> = {}, remoteAddress = '198.51.100.4') =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: EMAIL, password }, headers, remoteAddress })

t.test('the owner sees sign-ins, failed logins, a password change and ended sessions, newest first, with address, device and session', async (t) => {
  const { app, clock } = await build(t)
  const reg = await register(app, EMAIL)
  clock.advance(1000)
  const ok = await login(app, PASSWORD, { 'user-agent': FIREFOX })
  t.equal(ok.statusCode, 200)
  const session = ok.json<AuthResultBody>()
  clock.advance(1000)
  t.equal((await login(app, 'wrong password, long enough')).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'nobody@example.com', password: PASSWORD } })).statusCode, 401,
    'an unknown address: recorded nowhere')
  clock.advance(1000)
  const changed = await app.inject({
    method: 'PUT', url: '/v1/me/password', headers: { ...bearer(session.accessToken), 'user-agent': FIREFOX },
    payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, remoteAddress: '198.51.100.4'
  })
  t.equal(changed.statusCode, 200, changed.body)
  const afterChange = changed.json<AuthResultBody>()
  clock.advance(1000)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(afterChange.accessToken) })).statusCode, 204)

  // The logged-out session's access token still reads (stateless mode); the list is the same from any session.
  const page = await events(app, afterChange.accessToken)
  t.same(page.items.map((e) => [e.type, e.detail]), [
    ['session_ended', 'logout'],
    ['password_changed', 'other sessions ended'],
    ['login_failed', 'wrong_password'],
    ['login_succeeded', null],
    ['account_created', null]
  ])
  const [ended, change, failed, signIn, created] = page.items
  t.match(signIn, { ip: '198.51.100.4', deviceName: 'Firefox on Linux', sessionId: session.sessionId, actorId: null })
  t.match(failed, { ip: '198.51.100.4', sessionId: null })
  t.match(change, { sessionId: session.sessionId, deviceName: 'Firefox on Linux' })
  t.equal(ended.sessionId, session.sessionId)
  t.equal(created.sessionId, reg.sessionId)
  t.equal(Date.parse(signIn.createdAt), START + 1000, 'the time of the event, from the clock')
  t.equal(page.nextCursor, null)
})

t.test('pages: limit and an opaque cursor; a foreign or bad cursor and an out-of-range limit are 400', async (t) => {
  const { app } = await build(t)
  const { accessToken } = await register(app, EMAIL)
  for (let i = 0; i < 4; i++) await login(app)
  const all = await events(app, accessToken)
  t.equal(all.items.length, 5)
  const first = await events(app, accessToken, '?limit=2')
  t.same(first.items.map((e) => e.id), all.items.slice(0, 2).map((e) => e.id))
  t.type(first.nextCursor, 'string')
  const second = await events(app, accessToken, `?limit=2&cursor=${first.nextCursor!}`)
  t.same(second.items.map((e) => e.id), all.items.slice(2, 4).map((e) => e.id))
  const third = await events(app, accessToken, `?limit=2&cursor=${second.nextCursor!}`)
  t.same(third.items.map((e) => e.id), all.items.slice(4).map((e) => e.id))
  t.equal(third.nextCursor, null)
  for (const query of ['?cursor=bm9wZQ', '?cursor=' + Buffer.from('id:x').toString('base64url'), '?limit=0', '?limit=101', '?limit=ten', '?extra=1']) {
    const res = await app.inject({ method: 'GET', url: `/v1/me/security-events${query}`, headers: bearer(accessToken) })
    assertProblem(t, res, 400, 'ERR_VALIDATION')
  }
  assertProblem(t, await app.inject({ method: 'GET', url: '/v1/me/security-events' }), 401, 'ERR_AUTH_REQUIRED')
})

t.test('one user never sees another\'s events', async (t) => {
  const { app } = await build(t)
  await register(app, EMAIL)
  await login(app, 'wrong password, long enough')
  const bob = await register(app, 'bob@example.com')
  t.same((await events(app, bob.accessToken)).items.map((e) => e.type), ['account_created'])
})

t.test('refresh token reuse, logout-others and logout-all are recorded; a refresh itself is not', async (t) => {
  const { app, clock } = await build(t)
  const reg = await register(app, EMAIL)
  const rotated = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: reg.refreshToken } })
  t.equal(rotated.statusCode, 200)
  clock.advance(60_000)
  const reused = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: reg.refreshToken }, remoteAddress: '192.0.2.66' })
  assertProblem(t, reused, 401, 'ERR_REFRESH_TOKEN_REUSED')
  const other = (await login(app)).json<AuthResultBody>()
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout-others', headers: bearer(other.accessToken) })).statusCode, 204)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(other.accessToken) })).statusCode, 204)
  const page = await events(app, other.accessToken)
  t.same(page.items.map((e) => [e.type, e.detail]), [
    ['session_ended', 'logout_all'], ['session_ended', 'logout_others'], ['login_succeeded', null],
    ['refresh_token_reused', 'session ended'], ['account_created', null]
  ])
  t.match(page.items[3], { ip: '192.0.2.66', sessionId: reg.sessionId })
  t.equal(page.items[1].sessionId, other.sessionId, 'the session that asked')
})

t.test('the access-token check never writes an event', async (t) => {
  const clock = new ManualClock(START)
  const real = createSqliteStore({ path: ':memory:', clock })
  let appends = 0
  const store = new Proxy(real, {
    get (target, prop, receiver) {
      if (prop === 'appendSecurityEvent') return async (...args: Parameters<UserStore['appendSecurityEvent']>) => { appends++; return await target.appendSecurityEvent(...args) }
      return Reflect.get(target, prop, receiver) as unknown
    }
  }) as UserStore
  const { app } = await build(t, { store, clock })
  const { accessToken } = await register(app, EMAIL)
  const before = appends
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(accessToken) })).statusCode, 200)
  await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer('x.y.z') })
  t.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(accessToken) })).statusCode, 200)
  t.equal(appends, before, 'whoami, a refused token and GET /v1/me wrote nothing')
})

t.test('a failing event write does not fail the login: it is logged as a warning', async (t) => {
  const clock = new ManualClock(START)
  const real = createSqliteStore({ path: ':memory:', clock })
  let broken = false
  const store = new Proxy(real, {
    get (target, prop, receiver) {
      if (broken && prop === 'appendSecurityEvent') return async () => { throw new Error('disk full') }
      return Reflect.get(target, prop, receiver) as unknown
    }
  }) as UserStore
  const warnings: string[] = []
  const logger = { level: 'warn', stream: { write: (line: string) => { warnings.push(line) } } }
  const { app } = await build(t, { store, clock, logger })
  await register(app, EMAIL)
  broken = true
  t.equal((await login(app)).statusCode, 200, 'the login stands')
  t.equal((await login(app, 'wrong password, long enough')).statusCode, 401, 'a failed login is still the same 401')
  t.equal(warnings.filter((l) => l.includes('could not record a security event')).length, 2)
  t.notOk(warnings.join('').includes(PASSWORD), 'no password in the warning')
})

t.test('events older than SECURITY_EVENTS_RETENTION are purged at a later write', async (t) => {
  const { app, clock, store } = await build(t, { env: { SECURITY_EVENTS_RETENTION: '30d' } })
  const { user } = await register(app, EMAIL)
  await login(app)
  clock.advance(31 * 86_400_000)
  await login(app)
  t.ok(await until(async () => (await store.listSecurityEvents(user.id, { limit: 10 })).length === 1), 'only the new login is left')
})

t.test('administrators: every action is recorded with the acting admin; they read any user\'s history, others get 403', async (t) => {
  const ctx = await build(t)
  const { app } = ctx
  const alice = await register(app, EMAIL)
  const admin = await registerAdmin(ctx)
  const as = { ...bearer(admin.accessToken), 'user-agent': FIREFOX }
  const patch = (payload: object) => app.inject({ method: 'PATCH', url: `/v1/users/${alice.user.id}`, headers: as, payload, remoteAddress: '203.0.113.9' })
  t.equal((await patch({ role: 'admin' })).statusCode, 200)
  t.equal((await patch({ role: 'user', disabled: true })).statusCode, 200)
  t.equal((await patch({ disabled: false })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/users/${alice.user.id}/sessions`, headers: as })).statusCode, 204)

  const res = await app.inject({ method: 'GET', url: `/v1/users/${alice.user.id}/security-events`, headers: bearer(admin.accessToken) })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const items = res.json<Page>().items
  t.same(items.map((e) => [e.type, e.detail]), [
    ['admin_sessions_ended', null], ['admin_enabled', null], ['admin_disabled', null], ['admin_role_changed', 'role user'],
    ['admin_role_changed', 'role admin'], ['account_created', null]
  ])
  for (const e of items.slice(0, 5)) t.match(e, { actorId: admin.user.id, deviceName: 'Firefox on Linux' })
  t.equal(items[4].ip, '203.0.113.9', "the administrator's address")

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/users/${alice.user.id}`, headers: as })).statusCode, 204)
  t.same((await ctx.store.listSecurityEvents(alice.user.id, { limit: 1 }))[0]?.type, 'admin_user_deleted', 'the deletion is recorded, and outlives the account')
  assertProblem(t, await app.inject({ method: 'GET', url: `/v1/users/${alice.user.id}/security-events`, headers: bearer(admin.accessToken) }), 404, 'ERR_USER_NOT_FOUND')

  const bob = await register(app, 'bob@example.com')
  assertProblem(t, await app.inject({ method: 'GET', url: `/v1/users/${admin.user.id}/security-events`, headers: bearer(bob.accessToken) }), 403, 'ERR_FORBIDDEN')
  assertProblem(t, await app.inject({ method: 'GET', url: `/v1/users/${bob.user.id}/security-events?limit=500`, headers: bearer(admin.accessToken) }), 400, 'ERR_VALIDATION')
})

t.test('a password reset and a verified address are recorded', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  const { token: verify } = tokenFromLink((await ctx.sink.next(isVerify)).text, 'verify-email')
  t.equal((await verifyEmail(ctx.app, verify)).statusCode, 204)
  t.equal((await forgot(ctx.app, EMAIL)).statusCode, 202)
  const { token: reset } = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password')
  t.equal((await resetPassword(ctx.app, reset)).statusCode, 204)
  const types = (await ctx.store.listSecurityEvents(reg.user.id, { limit: 10 })).map((e) => [e.type, e.detail])
  t.same(types, [['password_reset', 'every session ended'], ['email_verified', null], ['account_created', null]])
})
