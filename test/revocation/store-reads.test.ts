// Hybrid mode through the app: how often the Bearer hook reads the store (once per pair per TTL, one read for concurrent
// misses), and what it answers when the store fails or hangs: the last known state, else acceptance; never a 5xx.
import t from 'tap'
import { ManualClock } from '../../src/clock'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { StoreUnavailableError, type UserStore } from '../../src/store/user-store'
import { assertProblem, bearer, build, register, START } from '../support/app'

const HYBRID = { REVOCATION_MODE: 'hybrid', REVOCATION_CACHE_TTL: '5s' }

interface Watched {
  store: UserStore
  /** revocationState calls so far. */
  reads: () => number
  set: (mode: 'healthy' | 'reject' | 'throw' | 'hang') => void
}

/** A real SQLite store whose revocationState is counted and can fail (reject, throw) or hang; everything else works. */
function watchedStore (clock: ManualClock): Watched {
  const real = createSqliteStore({ path: ':memory:', clock })
  let mode: 'healthy' | 'reject' | 'throw' | 'hang' = 'healthy'
  let reads = 0
  const store: UserStore = {
    ...real,
    revocationState: (userId, sid) => {
      reads++
      if (mode === 'throw') throw new StoreUnavailableError()
      if (mode === 'reject') return Promise.reject(new StoreUnavailableError())
      if (mode === 'hang') return new Promise(() => {})
      return real.revocationState(userId, sid)
    }
  }
  return { store, reads: () => reads, set: (m) => { mode = m } }
}

const whoami = (app: Parameters<typeof register>[0], token: string) => app.inject({ url: '/v1/auth/whoami', headers: bearer(token) })

t.test('a cache hit reads nothing; one read per (user, session) per TTL', async (t) => {
  const clock = new ManualClock(START)
  const watched = watchedStore(clock)
  const ctx = await build(t, { env: HYBRID, clock, store: watched.store })
  const { accessToken } = await register(ctx.app)
  for (let i = 0; i < 20; i++) t.equal((await whoami(ctx.app, accessToken)).statusCode, 200)
  t.equal(watched.reads(), 1, '20 requests, 1 read')
  clock.advance(4999)
  await whoami(ctx.app, accessToken)
  t.equal(watched.reads(), 1, 'still fresh 1 ms before the TTL')
  clock.advance(1)
  await whoami(ctx.app, accessToken)
  t.equal(watched.reads(), 2, 'read again at the TTL')
})

t.test('concurrent requests with one new token make one read (single flight)', async (t) => {
  const clock = new ManualClock(START)
  const watched = watchedStore(clock)
  const ctx = await build(t, { env: HYBRID, clock, store: watched.store })
  const { accessToken } = await register(ctx.app)
  const answers = await Promise.all(Array.from({ length: 30 }, () => whoami(ctx.app, accessToken)))
  t.strictSame(answers.map((r) => r.statusCode), answers.map(() => 200))
  t.equal(watched.reads(), 1)
})

t.test('stateless mode never reads revocation state', async (t) => {
  const clock = new ManualClock(START)
  const watched = watchedStore(clock)
  const ctx = await build(t, { clock, store: watched.store })
  const { accessToken } = await register(ctx.app)
  for (let i = 0; i < 5; i++) t.equal((await whoami(ctx.app, accessToken)).statusCode, 200)
  t.equal(watched.reads(), 0)
})

t.test('store failing or hanging: last known state, else accepted as in stateless mode; never a 5xx', async (t) => {
  for (const mode of ['reject', 'throw', 'hang'] as const) {
    await t.test(mode, async (t) => {
      const clock = new ManualClock(START)
      const watched = watchedStore(clock)
      const ctx = await build(t, { env: HYBRID, clock, store: watched.store })
      const known = await register(ctx.app, 'known@example.com')
      const loggedOut = await register(ctx.app, 'gone@example.com')
      const unseen = await register(ctx.app, 'unseen@example.com')
      t.equal((await whoami(ctx.app, known.accessToken)).statusCode, 200)
      t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(loggedOut.accessToken) })).statusCode, 204)

      watched.set(mode)
      clock.advance(10_000) // every entry is stale now
      // In 'hang' mode the store never answers: that these answers come at all is the lookup timeout's doing.
      const answers = {
        known: await whoami(ctx.app, known.accessToken),
        loggedOut: await whoami(ctx.app, loggedOut.accessToken),
        unseen: await whoami(ctx.app, unseen.accessToken)
      }
      t.equal(answers.known.statusCode, 200, 'known and not revoked: accepted from the stale entry')
      assertProblem(t, answers.loggedOut, 401, 'ERR_TOKEN_REVOKED')
      t.equal(answers.unseen.statusCode, 200, 'never seen: accepted (stateless semantics: it still expires)')
      t.ok(watched.reads() <= 4, `the breaker spares the dead store (${watched.reads()} reads)`)
      for (const res of Object.values(answers)) t.ok(res.statusCode < 500, 'no 5xx')

      // Expiry still holds without the store.
      clock.advance((ctx.config.jwt.accessTtl + ctx.config.jwt.clockTolerance) * 1000)
      assertProblem(t, await whoami(ctx.app, unseen.accessToken), 401, 'ERR_TOKEN_EXPIRED')
    })
  }
})
