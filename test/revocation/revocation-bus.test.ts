// The Redis pub/sub bus: the wire format, delivery between instances (in-process apps on real Redis, frozen clock), and
// Redis unreachable: nothing throws, nothing waits long, the TTL takes over.
// Tests that need Redis ask test/support/services.ts first: skipped with the reason when it is not there (failed in CI).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import path from 'node:path'
import t from 'tap'
import { ManualClock } from '../../src/clock'
import { createRedisBus, decodeEvent, encodeEvent, type RevocationEvent } from '../../src/revocation/revocation-bus'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { assertProblem, bearer, build, makeKey, register, START } from '../support/app'
import { REDIS_URL, requireService } from '../support/services'
import { until } from '../support/until'

const DEAD_REDIS = 'redis://127.0.0.1:1'
const silent = { warn: () => {}, info: () => {} }

t.test('wire format: compact, and anything malformed is ignored', async (t) => {
  const events: RevocationEvent[] = [
    { kind: 'user', userId: '01m80v25qxez28kjcs75qjddnj', version: 3 },
    { kind: 'user', userId: '01m80v25qxez28kjcs75qjddnj', version: null },
    { kind: 'session', sid: 'AbCdEfGhIjKlMnOp' }
  ]
  t.strictSame(events.map(encodeEvent), ['{"u":"01m80v25qxez28kjcs75qjddnj","v":3}', '{"u":"01m80v25qxez28kjcs75qjddnj","v":null}', '{"s":"AbCdEfGhIjKlMnOp"}'])
  for (const event of events) t.strictSame(decodeEvent(encodeEvent(event)), event)
  for (const bad of ['', 'nope', 'null', '[]', '{}', '{"u":""}', '{"u":"x"}', '{"u":"x","v":-1}', '{"u":"x","v":1.5}', '{"u":"x","v":"1"}',
    '{"s":""}', '{"s":5}', `{"s":"${'a'.repeat(65)}"}`, `{"u":"${'a'.repeat(65)}","v":1}`]) {
    t.equal(decodeEvent(bad), null, `ignored: ${bad}`)
  }
})

t.test('two buses on one channel: each hears the other (and itself)', async (t) => {
  if (!await requireService(t, 'redis')) return
  const channel = `tessera:test:${randomBytes(6).toString('hex')}`
  const a = createRedisBus(REDIS_URL, channel, silent)
  const b = createRedisBus(REDIS_URL, channel, silent)
  t.teardown(() => { a.close(); b.close() })
  const heardA: RevocationEvent[] = []
  const heardB: RevocationEvent[] = []
  await a.subscribe((e) => heardA.push(e))
  await b.subscribe((e) => heardB.push(e))
  // subscribe() stops waiting after half a second so that start-up never hangs on Redis; Redis pub/sub keeps nothing
  // for a subscriber not yet there. On a busy machine, publish only once Redis counts both subscribers.
  const observer = new Redis(REDIS_URL)
  t.teardown(() => observer.disconnect())
  const subscribers = async (): Promise<number> => Number(((await observer.pubsub('NUMSUB', channel)) as [string, number])[1])
  t.ok(await until(async () => await subscribers() === 2), 'both buses subscribed')
  a.publish({ kind: 'session', sid: 'AbCdEfGhIjKlMnOp' })
  b.publish({ kind: 'user', userId: 'u1', version: 2 })
  t.ok(await until(() => heardA.length === 2 && heardB.length === 2), 'delivered')
  t.strictSame(heardB, [{ kind: 'session', sid: 'AbCdEfGhIjKlMnOp' }, { kind: 'user', userId: 'u1', version: 2 }])
})

t.test('Redis unreachable: publish never throws, subscribe gives up waiting quickly, one warning', async (t) => {
  const warnings: string[] = []
  const bus = createRedisBus(DEAD_REDIS, 'tessera:test:dead', { warn: (_o, msg) => warnings.push(msg), info: () => {} })
  t.teardown(() => bus.close())
  // Resolving at all is the claim (start-up goes on without Redis); how soon is the bus's own timer, not asserted here.
  await bus.subscribe(() => {})
  for (let i = 0; i < 5; i++) t.doesNotThrow(() => bus.publish({ kind: 'session', sid: 'AbCdEfGhIjKlMnOp' }))
  t.ok(await until(() => warnings.length > 0), 'the outage is reported')
  // The five publishes fail without a round trip (no offline queue): a few turns of the event loop settle them.
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(warnings.length, 1, 'one warning per outage, not one per failed publish')
  t.match(warnings[0], /REVOCATION_CACHE_TTL/)
})

t.test('two in-process instances with REDIS_URL: a revocation on A is refused on B at once, the clock frozen', async (t) => {
  if (!await requireService(t, 'redis')) return
  const clock = new ManualClock(START)
  const key = makeKey()
  const file = path.join(t.testdir(), 'tessera.db')
  // A JWT_ISSUER of its own: its channel is not shared with other tests running at the same time.
  const env = { REVOCATION_MODE: 'hybrid', REVOCATION_CACHE_TTL: '1h', REDIS_URL, JWT_ISSUER: `tessera-${randomBytes(4).toString('hex')}` }
  const a = await build(t, { env, clock, key, store: createSqliteStore({ path: file, clock }) })
  const b = await build(t, { env, clock, key, store: createSqliteStore({ path: file, clock }) })
  const whoami = (token: string) => b.app.inject({ url: '/v1/auth/whoami', headers: bearer(token) })

  const one = await register(a.app, 'one@example.com')
  const two = await register(a.app, 'two@example.com')
  t.equal((await whoami(one.accessToken)).statusCode, 200, 'B caches the state of both for an hour')
  t.equal((await whoami(two.accessToken)).statusCode, 200)

  t.equal((await a.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(one.accessToken) })).statusCode, 204)
  t.ok(await until(async () => (await whoami(one.accessToken)).statusCode === 401), 'logout on A: refused on B, its one-hour cache notwithstanding')
  assertProblem(t, await whoami(one.accessToken), 401, 'ERR_TOKEN_REVOKED')

  t.equal((await a.app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(two.accessToken) })).statusCode, 204)
  t.ok(await until(async () => (await whoami(two.accessToken)).statusCode === 401), 'logout-all on A: refused on B')
})
