// Refresh token reuse detection (RFC 9700 §4.14.2) on SQLite and PostgreSQL: a refresh is a compare-and-set on the session's
// counter; a superseded token within REFRESH_REUSE_GRACE gets the current tokens, later it ends the session.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../../src/clock'
import { createPostgresStore } from '../../../src/store/postgres-store'
import type { UserStore } from '../../../src/store/user-store'
import { assertProblem, bearer, build, PASSWORD, register, START, type AuthResultBody, type TestContext } from '../../support/app'
import { testDatabase } from '../../support/postgres'

const refresh = (app: FastifyInstance, refreshToken: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
const codeOf = (res: LightMyRequestResponse): string => res.statusCode === 200 ? 'ok' : res.json<{ code: string }>().code
const tally = (answers: LightMyRequestResponse[]): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const code of answers.map(codeOf)) counts[code] = (counts[code] ?? 0) + 1
  return counts
}

/** Several refreshes with one token, all in flight at once, as racing tabs or a replayed copy beside the client send them. */
const concurrently = (app: FastifyInstance, token: string, n: number): Promise<LightMyRequestResponse[]> =>
  Promise.all(Array.from({ length: n }, () => refresh(app, token)))

type MakeStore = (t: Test, clock: ManualClock) => Promise<UserStore | null>

const STORES: Array<[string, MakeStore | undefined]> = [
  ['SQLite', undefined],
  ['PostgreSQL', async (t, clock) => {
    const db = await testDatabase(t)
    if (db === null) return null
    return createPostgresStore({ url: (await db.freshSchema(t)).url, clock, poolSize: 4 })
  }]
]

for (const [name, makeStore] of STORES) {
  t.test(name, async (t) => {
    const setup = async (t: Test, env: Record<string, string> = {}): Promise<TestContext | null> => {
      const clock = new ManualClock(START)
      const store = makeStore === undefined ? undefined : await makeStore(t, clock)
      if (store === null) return null
      return await build(t, { env, clock, ...(store !== undefined ? { store } : {}) })
    }

    t.test('a token copied before a rotation is caught when used: the session ends, every token of it is refused', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      const copy = reg.refreshToken
      ctx.clock.advance(60_000)
      const first = await refresh(ctx.app, reg.refreshToken)
      t.equal(first.statusCode, 200, first.body)
      const owner = first.json<AuthResultBody>()
      t.equal(claimsOf(owner.refreshToken).ctr, 1)

      ctx.clock.advance(10_001) // just past the default 10 s grace
      const replay = await refresh(ctx.app, copy)
      assertProblem(t, replay, 401, 'ERR_REFRESH_TOKEN_REUSED')
      t.equal(replay.headers['www-authenticate'], undefined, 'a refresh token problem, not a Bearer challenge')
      assertProblem(t, await refresh(ctx.app, owner.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
      assertProblem(t, await refresh(ctx.app, copy), 401, 'ERR_REFRESH_TOKEN_REVOKED')
      t.match(await ctx.store.findSession(reg.sessionId), { endReason: 'refresh_token_reused', endedAt: new Date(ctx.clock.now()) })
      const list = await ctx.app.inject({ url: '/v1/me/sessions', headers: bearer(owner.accessToken) })
      t.strictSame(list.json<{ items: unknown[] }>().items, [], 'the ended session is no longer listed')
    })

    t.test('the thief refreshing first: the owner\'s next refresh is the reuse, and the thief\'s tokens die with the session', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      ctx.clock.advance(60_000)
      const thief = (await refresh(ctx.app, reg.refreshToken)).json<AuthResultBody>()
      ctx.clock.advance(60_000)
      assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REUSED')
      assertProblem(t, await refresh(ctx.app, thief.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
    })

    t.test('an older token (two rotations back) is reuse even within the grace', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      const one = (await refresh(ctx.app, reg.refreshToken)).json<AuthResultBody>()
      const two = await refresh(ctx.app, one.refreshToken)
      t.equal(two.statusCode, 200, two.body)
      assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REUSED')
    })

    t.test('within the grace, a retried token gets the current tokens, which keep working', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      ctx.clock.advance(60_000)
      const lost = await refresh(ctx.app, reg.refreshToken) // the answer that never reached the client
      t.equal(lost.statusCode, 200)
      ctx.clock.advance(10_000) // exactly the grace
      const retry = await refresh(ctx.app, reg.refreshToken)
      t.equal(retry.statusCode, 200, retry.body)
      const tokens = retry.json<AuthResultBody>()
      t.equal(claimsOf(tokens.refreshToken).ctr, 1, 'the current counter: no new rotation')
      t.equal(tokens.sessionId, reg.sessionId)
      ctx.clock.advance(60_000)
      const next = await refresh(ctx.app, tokens.refreshToken)
      t.equal(next.statusCode, 200, 'the retry\'s refresh token rotates the session as usual')
      t.equal(claimsOf(next.json<AuthResultBody>().refreshToken).ctr, 2)
    })

    t.test('concurrent: one token refreshed by 6 requests at once within the grace: all answered, the session lives on', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      ctx.clock.advance(60_000)
      const answers = await concurrently(ctx.app, reg.refreshToken, 6)
      t.strictSame(tally(answers), { ok: 6 })
      const tokens = answers.map((a) => a.json<AuthResultBody>())
      t.strictSame([...new Set(tokens.map((b) => claimsOf(b.refreshToken).ctr))], [1], 'one rotation; every answer carries its counter')
      t.equal((await ctx.store.findSession(reg.sessionId))?.counter, 1)
      // Whichever answer the client kept, its refresh token works.
      const kept = tokens[answers.length - 1]
      ctx.clock.advance(60_000)
      const next = await refresh(ctx.app, kept.refreshToken)
      t.equal(next.statusCode, 200, next.body)
    })

    t.test('concurrent: with REFRESH_REUSE_GRACE=0, of 6 racing requests exactly one rotates, the others end the session', async (t) => {
      const ctx = await setup(t, { REFRESH_REUSE_GRACE: '0' })
      if (ctx === null) return
      const reg = await register(ctx.app)
      ctx.clock.advance(60_000)
      const answers = await concurrently(ctx.app, reg.refreshToken, 6)
      const counts = tally(answers)
      t.equal(counts.ok, 1, 'exactly one compare-and-set wins')
      t.equal((counts.ERR_REFRESH_TOKEN_REUSED ?? 0) + (counts.ERR_REFRESH_TOKEN_REVOKED ?? 0), 5, JSON.stringify(counts))
      t.ok((counts.ERR_REFRESH_TOKEN_REUSED ?? 0) >= 1, 'the first loser detects the reuse')
      const winner = answers.find((a) => a.statusCode === 200)!.json<AuthResultBody>()
      assertProblem(t, await refresh(ctx.app, winner.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
      t.match(await ctx.store.findSession(reg.sessionId), { endReason: 'refresh_token_reused' })
    })

    t.test('concurrent: a copy replayed past the grace, racing the owner\'s current token: the session ends either way', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      ctx.clock.advance(60_000)
      const current = (await refresh(ctx.app, reg.refreshToken)).json<AuthResultBody>()
      ctx.clock.advance(60_000)
      const answers = await Promise.all([
        ...Array.from({ length: 3 }, () => refresh(ctx.app, reg.refreshToken)),
        ...Array.from({ length: 3 }, () => refresh(ctx.app, current.refreshToken))
      ])
      const counts = tally(answers)
      t.ok((counts.ERR_REFRESH_TOKEN_REUSED ?? 0) >= 1, JSON.stringify(counts))
      // Whatever the owner's requests got, the session is over: nothing issued in the race refreshes again.
      for (const answer of answers.filter((a) => a.statusCode === 200)) {
        assertProblem(t, await refresh(ctx.app, answer.json<AuthResultBody>().refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
      }
      t.match(await ctx.store.findSession(reg.sessionId), { endReason: 'refresh_token_reused' })
    })

    t.test('reuse ends only its own session', async (t) => {
      const ctx = await setup(t)
      if (ctx === null) return
      const reg = await register(ctx.app)
      const laptop = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
      const laptopTokens = laptop.json<AuthResultBody>()
      await refresh(ctx.app, reg.refreshToken)
      ctx.clock.advance(60_000)
      assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REUSED')
      t.equal((await refresh(ctx.app, laptopTokens.refreshToken)).statusCode, 200, 'the other device is not signed out')
    })
  })
}
