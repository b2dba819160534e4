// REVOCATION_MODE=hybrid through the real app: every revocation refuses the old access token at once on the instance that made
// it and within REVOCATION_CACHE_TTL on another one (injected clock, no Redis), while stateless mode keeps its semantics.
import path from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock'
import type { Mailer, MailMessage } from '../../src/mail/mailer'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { assertProblem, bearer, build, makeKey, PASSWORD, register, START, type AuthResultBody, type TestContext } from '../support/app'
import { NEW_PASSWORD } from '../support/passwords'

const HYBRID = { REVOCATION_MODE: 'hybrid', REVOCATION_CACHE_TTL: '5s' }
const TTL_MS = 5000

/** Keeps every message, so a test can take the reset link out of it. */
class MemoryMailer implements Mailer {
  readonly kind = 'memory'
  readonly sent: MailMessage[] = []
  async send (message: MailMessage): Promise<void> { this.sent.push(message) }
  async close (): Promise<void> {}
}

interface Pair { a: TestContext, b: TestContext, clock: ManualClock, mailer: MemoryMailer }

/** Two instances (two apps, two store connections) on one SQLite file with one key and one clock; no bus between them. */
async function pair (t: Test, env: Record<string, string>): Promise<Pair> {
  const clock = new ManualClock(START)
  const key = makeKey()
  const file = path.join(t.testdir(), 'tessera.db')
  const mailer = new MemoryMailer()
  const a = await build(t, { env, clock, key, mailer, store: createSqliteStore({ path: file, clock }) })
  const b = await build(t, { env, clock, key, store: createSqliteStore({ path: file, clock }) })
  return { a, b, clock, mailer }
}

const whoami = (app: FastifyInstance, token: string): Promise<LightMyRequestResponse> =>
  app.inject({ url: '/v1/auth/whoami', headers: bearer(token) })
const refresh = (app: FastifyInstance, refreshToken: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
const login = async (app: FastifyInstance, email: string, password = PASSWORD): Promise<AuthResultBody> => {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json<AuthResultBody>()
}
const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>

async function adminToken (ctx: TestContext): Promise<string> {
  const { user } = await register(ctx.app, 'admin@example.com')
  await ctx.store.update(user.id, { role: 'admin' })
  return (await login(ctx.app, 'admin@example.com')).accessToken
}

async function resetLink (p: Pair, email: string): Promise<string> {
  const res = await p.a.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } })
  if (res.statusCode !== 202) throw new Error(`forgot failed: ${res.statusCode} ${res.body}`)
  // The outbox sends after the answer is written (registration's verification mail may still be on its way too).
  const resetMail = (): MailMessage | undefined => p.mailer.sent.find((m) => m.link.includes('/reset-password#'))
  for (let i = 0; i < 100 && resetMail() === undefined; i++) await new Promise((resolve) => setImmediate(resolve))
  return new URL(resetMail()?.link ?? 'http://x/').hash.replace(/^#token=/, '')
}

/** Each way to revoke a session, done on instance A with the victim's session (its tokens, its email). */
interface Revocation {
  name: string
  revoke: (p: Pair, victim: AuthResultBody) => Promise<LightMyRequestResponse>
  status: number
  /** What the victim's refresh token gets afterwards. */
  refreshCode: string
}

const REVOCATIONS: Revocation[] = [
  {
    name: 'logout-all',
    revoke: (p, v) => p.a.app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(v.accessToken) }),
    status: 204,
    refreshCode: 'ERR_REFRESH_TOKEN_REVOKED'
  },
  {
    name: 'logout (this device)',
    revoke: (p, v) => p.a.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(v.accessToken) }),
    status: 204,
    refreshCode: 'ERR_REFRESH_TOKEN_REVOKED'
  },
  {
    name: 'an admin ends every session',
    revoke: async (p, v) => p.a.app.inject({ method: 'DELETE', url: `/v1/users/${v.user.id}/sessions`, headers: bearer(await adminToken(p.a)) }),
    status: 204,
    refreshCode: 'ERR_REFRESH_TOKEN_REVOKED'
  },
  {
    name: 'password change',
    revoke: (p, v) => p.a.app.inject({
      method: 'PUT', url: '/v1/me/password', headers: bearer(v.accessToken), payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }
    }),
    status: 200,
    refreshCode: 'ERR_REFRESH_TOKEN_REVOKED'
  },
  {
    name: 'password reset by emailed link',
    revoke: async (p, v) => p.a.app.inject({
      method: 'POST', url: '/v1/auth/password/reset', payload: { token: await resetLink(p, v.user.email), newPassword: NEW_PASSWORD }
    }),
    status: 204,
    refreshCode: 'ERR_REFRESH_TOKEN_REVOKED'
  },
  {
    name: 'admin disables the account',
    revoke: async (p, v) => p.a.app.inject({
      method: 'PATCH', url: `/v1/users/${v.user.id}`, headers: bearer(await adminToken(p.a)), payload: { disabled: true }
    }),
    status: 200,
    refreshCode: 'ERR_ACCOUNT_DISABLED'
  },
  {
    name: 'admin deletes the account',
    revoke: async (p, v) => p.a.app.inject({ method: 'DELETE', url: `/v1/users/${v.user.id}`, headers: bearer(await adminToken(p.a)) }),
    status: 204,
    refreshCode: 'ERR_REFRESH_TOKEN_INVALID'
  },
  {
    name: 'the user deletes the account',
    revoke: (p, v) => p.a.app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(v.accessToken), payload: { password: PASSWORD } }),
    status: 204,
    refreshCode: 'ERR_REFRESH_TOKEN_INVALID'
  }
]

t.test('hybrid: each revocation refuses the old access token at once on A, within REVOCATION_CACHE_TTL on B', async (t) => {
  for (const revocation of REVOCATIONS) {
    await t.test(revocation.name, async (t) => {
      const p = await pair(t, HYBRID)
      const victim = await register(p.a.app, 'victim@example.com')
      // A second session of the same user, on B: only logout (this device) spares it.
      const other = await login(p.b.app, 'victim@example.com')
      // Both instances have served (and cached) the token before the revocation, as busy instances would.
      t.equal((await whoami(p.a.app, victim.accessToken)).statusCode, 200)
      t.equal((await whoami(p.b.app, victim.accessToken)).statusCode, 200)
      t.equal((await whoami(p.b.app, other.accessToken)).statusCode, 200)

      p.clock.advance(1000)
      const res = await revocation.revoke(p, victim)
      t.equal(res.statusCode, revocation.status, res.body)

      assertProblem(t, await whoami(p.a.app, victim.accessToken), 401, 'ERR_TOKEN_REVOKED')
      const onB = await whoami(p.b.app, victim.accessToken)
      t.equal(onB.statusCode, 200, 'B, with no Redis between them, trusts its cached entry until the TTL runs out')
      p.clock.advance(TTL_MS)
      const later = await whoami(p.b.app, victim.accessToken)
      assertProblem(t, later, 401, 'ERR_TOKEN_REVOKED')
      t.match(later.headers['www-authenticate'], /error="invalid_token"/, 'clients take it for a dead token and refresh')
      assertProblem(t, await refresh(p.b.app, victim.refreshToken), 401, revocation.refreshCode)

      const otherAfter = await whoami(p.b.app, other.accessToken)
      if (revocation.name === 'logout (this device)') {
        t.equal(otherAfter.statusCode, 200, 'the other device stays logged in')
        t.equal((await refresh(p.a.app, other.refreshToken)).statusCode, 200)
      } else {
        assertProblem(t, otherAfter, 401, 'ERR_TOKEN_REVOKED')
      }

      if (revocation.name === 'password change') {
        const fresh = res.json<AuthResultBody>()
        t.equal(claimsOf(fresh.accessToken).sid, claimsOf(victim.accessToken).sid, 'the caller\'s session goes on')
        t.equal((await whoami(p.a.app, fresh.accessToken)).statusCode, 200, 'its new token works on A')
        t.equal((await whoami(p.b.app, fresh.accessToken)).statusCode, 200, 'and on B')
      }
    })
  }
})

t.test('stateless: the same revocations leave the access token working until it expires', async (t) => {
  for (const revocation of REVOCATIONS.filter((r) => r.name !== 'logout (this device)')) {
    await t.test(revocation.name, async (t) => {
      const p = await pair(t, {})
      const victim = await register(p.a.app, 'victim@example.com')
      const res = await revocation.revoke(p, victim)
      t.equal(res.statusCode, revocation.status, res.body)
      t.equal((await whoami(p.a.app, victim.accessToken)).statusCode, 200, 'A still accepts it')
      p.clock.advance(TTL_MS)
      t.equal((await whoami(p.b.app, victim.accessToken)).statusCode, 200, 'B too, past any cache TTL')
      assertProblem(t, await refresh(p.b.app, victim.refreshToken), 401, revocation.refreshCode)
      p.clock.advance((p.a.config.jwt.accessTtl + p.a.config.jwt.clockTolerance) * 1000)
      assertProblem(t, await whoami(p.a.app, victim.accessToken), 401, 'ERR_TOKEN_EXPIRED')
    })
  }
})

t.test('stateless: POST /v1/auth/logout ends the session: refresh stops at once, the access token lives out its TTL', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const laptop = await login(ctx.app, 'alice@example.com')
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(reg.accessToken) })
  t.equal(res.statusCode, 204, res.body)
  assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.equal((await whoami(ctx.app, reg.accessToken)).statusCode, 200, 'no storage read on the access path')
  t.equal((await refresh(ctx.app, laptop.refreshToken)).statusCode, 200, 'the other device stays signed in')
  t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(reg.accessToken) })).statusCode, 204, 'again: nothing left to end')
  ctx.clock.advance((ctx.config.jwt.accessTtl + ctx.config.jwt.clockTolerance + 1) * 1000)
  assertProblem(t, await whoami(ctx.app, reg.accessToken), 401, 'ERR_TOKEN_EXPIRED')
  // Without a token, the Bearer check answers first, as on every protected route.
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout' }), 401, 'ERR_AUTH_REQUIRED')
})

t.test('token shapes: every token carries sid; hybrid adds ver to the access token; the sid is kept through refreshes', async (t) => {
  const stateless = await build(t)
  const s = await register(stateless.app)
  t.strictSame(Object.keys(claimsOf(s.accessToken)), ['iss', 'aud', 'sub', 'role', 'sid', 'iat', 'exp', 'jti'])
  t.strictSame(Object.keys(claimsOf(s.refreshToken)), ['iss', 'aud', 'sub', 'ver', 'sid', 'ctr', 'auth_time', 'iat', 'exp', 'jti'])

  const hybrid = await build(t, { env: HYBRID })
  const h = await register(hybrid.app)
  const access = claimsOf(h.accessToken)
  const refreshClaims = claimsOf(h.refreshToken)
  t.strictSame(Object.keys(access), ['iss', 'aud', 'sub', 'role', 'ver', 'sid', 'iat', 'exp', 'jti'])
  t.strictSame(Object.keys(refreshClaims), ['iss', 'aud', 'sub', 'ver', 'sid', 'ctr', 'auth_time', 'iat', 'exp', 'jti'])
  t.match(access, { ver: 0, sid: /^[A-Za-z0-9_-]{16}$/ })
  t.equal(refreshClaims.sid, access.sid, 'one session: the same sid in both tokens')
  t.ok(h.accessToken.length < 400, `hybrid access token: ${h.accessToken.length} bytes (stateless: ${s.accessToken.length})`)
  t.comment(`access token bytes: stateless ${s.accessToken.length}, hybrid ${h.accessToken.length}; refresh: ${s.refreshToken.length}, ${h.refreshToken.length}`)

  hybrid.clock.advance(1000)
  const rotated = await refresh(hybrid.app, h.refreshToken)
  t.equal(rotated.statusCode, 200, rotated.body)
  const next = rotated.json<AuthResultBody>()
  t.equal(claimsOf(next.accessToken).sid, access.sid, 'a refresh continues the session')
  t.equal(claimsOf(next.refreshToken).sid, access.sid)
  const again = await login(hybrid.app, 'alice@example.com')
  t.not(claimsOf(again.accessToken).sid, access.sid, 'a login starts another session')
})

t.test('switching a deployment from stateless to hybrid: old access tokens are refused, old refresh tokens start a session', async (t) => {
  const clock = new ManualClock(START)
  const key = makeKey()
  const file = path.join(t.testdir(), 'tessera.db')
  const before = await build(t, { clock, key, store: createSqliteStore({ path: file, clock }) })
  const old = await register(before.app)
  const after = await build(t, { env: HYBRID, clock, key, store: createSqliteStore({ path: file, clock }) })

  const res = await whoami(after.app, old.accessToken)
  assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
  t.match(res.headers['www-authenticate'], /error="invalid_token"/, 'the client refreshes…')
  const refreshed = await refresh(after.app, old.refreshToken)
  t.equal(refreshed.statusCode, 200, '…which works')
  const tokens = refreshed.json<AuthResultBody>()
  t.match(claimsOf(tokens.accessToken), { ver: 0, sid: /^[A-Za-z0-9_-]{16}$/ })
  t.equal((await whoami(after.app, tokens.accessToken)).statusCode, 200)
  // And back: a stateless instance ignores the extra claims.
  t.equal((await whoami(before.app, tokens.accessToken)).statusCode, 200)
})

t.test('hybrid logout: refused at once for access and refresh tokens of that session only; a second logout is a 401', async (t) => {
  const ctx = await build(t, { env: HYBRID })
  const phone = await register(ctx.app)
  const laptop = await login(ctx.app, 'alice@example.com')
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(phone.accessToken) })
  t.equal(res.statusCode, 204, res.body)
  t.equal(res.body, '')
  assertProblem(t, await whoami(ctx.app, phone.accessToken), 401, 'ERR_TOKEN_REVOKED')
  assertProblem(t, await ctx.app.inject({ url: '/v1/me', headers: bearer(phone.accessToken) }), 401, 'ERR_TOKEN_REVOKED')
  assertProblem(t, await refresh(ctx.app, phone.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(phone.accessToken) }), 401, 'ERR_TOKEN_REVOKED')
  t.equal((await whoami(ctx.app, laptop.accessToken)).statusCode, 200)

  // The session reads as ended until the purge, which waits until no token of it can be valid (next test, and the store contract).
  const sid = String(claimsOf(phone.accessToken).sid)
  t.match(await ctx.store.findSession(sid), { userId: phone.user.id, endedAt: new Date(ctx.clock.now()), endReason: 'logout' })
  t.equal((await ctx.store.revocationState(phone.user.id, sid)).sessionEnded, true)
})

t.test('switching modes never brings an ended session back', async (t) => {
  for (const [from, to] of [['stateless', 'hybrid'], ['hybrid', 'stateless']]) {
    await t.test(`ended in ${from} mode, then the deployment restarts in ${to} mode on the same database`, async (t) => {
      const clock = new ManualClock(START)
      const key = makeKey()
      const file = path.join(t.testdir(), 'tessera.db')
      const env = (mode: string): Record<string, string> => mode === 'hybrid' ? HYBRID : {}
      const before = await build(t, { env: env(from), clock, key, store: createSqliteStore({ path: file, clock }) })
      // In hybrid mode tokens carry ver, so the hybrid instance below can check them; stateless ones it refuses anyway.
      const phone = await register(before.app)
      const laptop = await login(before.app, 'alice@example.com')
      t.equal((await before.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(phone.accessToken) })).statusCode, 204)
      assertProblem(t, await refresh(before.app, phone.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
      await before.app.close()

      const after = await build(t, { env: env(to), clock, key, store: createSqliteStore({ path: file, clock }) })
      assertProblem(t, await refresh(after.app, phone.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
      if (to === 'hybrid') assertProblem(t, await whoami(after.app, phone.accessToken), 401, from === 'hybrid' ? 'ERR_TOKEN_REVOKED' : 'ERR_TOKEN_INVALID')
      const kept = await refresh(after.app, laptop.refreshToken)
      t.equal(kept.statusCode, 200, 'the other session carries on')
      t.equal((await whoami(after.app, kept.json<AuthResultBody>().accessToken)).statusCode, 200)
      t.strictSame((await after.store.listActiveSessions(phone.user.id)).map((s) => s.id), [laptop.sessionId])
    })
  }

  await t.test('a hybrid access token of a session ended in stateless mode is refused by a hybrid instance', async (t) => {
    const clock = new ManualClock(START)
    const key = makeKey()
    const file = path.join(t.testdir(), 'tessera.db')
    const hybrid = await build(t, { env: HYBRID, clock, key, store: createSqliteStore({ path: file, clock }) })
    const stateless = await build(t, { clock, key, store: createSqliteStore({ path: file, clock }) })
    const phone = await register(hybrid.app)
    t.equal((await stateless.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(phone.accessToken) })).statusCode, 204)
    t.equal((await whoami(stateless.app, phone.accessToken)).statusCode, 200, 'stateless: the access token lives out its TTL')
    assertProblem(t, await whoami(hybrid.app, phone.accessToken), 401, 'ERR_TOKEN_REVOKED')
  })
})
