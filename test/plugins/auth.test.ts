// The Bearer hook reads no storage, and its verification cache stays bounded and honours expiry and key retirement.
import { signatureChecks } from '../support/crypto-calls' // first: it must wrap node:crypto before fast-jwt loads
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { StoreUnavailableError, type UserStore } from '../../src/store/user-store'
import { assertProblem, bearer, build, PASSWORD, register, START, type AuthResultBody, type BuildOptions, type TestContext } from '../support/app'
import { dpopInject, INJECT_ORIGIN, makeProof, proofKey } from '../support/dpop'

interface FailingStore {
  store: UserStore
  /** From now on every method fails; `mode` says how. */
  fail (mode?: 'reject' | 'throw'): void
  /** Property reads made while failing (lifecycle `close` excepted). */
  touched: string[]
}

/**
 * A real SQLite store behind a Proxy. Healthy until `fail()`; then every method rejects with
 * StoreUnavailableError (as an unreachable store does) — or, in 'throw' mode, throws before returning —
 * and every property read is recorded, so "touched nothing" is an observation, not an inference.
 */
function failingStore (clock: ManualClock): FailingStore {
  const real = createSqliteStore({ path: ':memory:', clock })
  let mode: 'healthy' | 'reject' | 'throw' = 'healthy'
  const touched: string[] = []
  const store = new Proxy(real, {
    get (target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      // close runs at teardown; it is not a request-path access.
      if (mode === 'healthy' || prop === 'close' || typeof value !== 'function') return value
      touched.push(String(prop))
      if (mode === 'throw') return () => { throw new StoreUnavailableError() }
      return async () => { throw new StoreUnavailableError() }
    }
  })
  return { store, fail: (m = 'reject') => { mode = m }, touched }
}

const WHOAMI = '/v1/auth/whoami'
const whoami = (ctx: TestContext, token: string) => ctx.app.inject({ url: WHOAMI, headers: bearer(token) })

function claimsOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
}

t.test('whoami answers from the token alone while every store method fails', async (t) => {
  const clock = new ManualClock(START)
  const failing = failingStore(clock)
  const ctx = await build(t, { clock, store: failing.store })
  const { accessToken, user } = await register(ctx.app)
  failing.fail()

  const res = await whoami(ctx, accessToken)
  t.equal(res.statusCode, 200, res.body)
  const { sub, role, iat, exp, jti } = claimsOf(accessToken)
  t.same(res.json(), { sub, role, iat, exp, jti })
  t.equal(res.json().sub, user.id)
  t.equal(res.json().role, 'user')
  t.same(failing.touched, [], 'the hook and the whoami route read nothing from the store')

  // Refusals do not reach the store either.
  const bad = await whoami(ctx, accessToken.slice(0, -2))
  t.equal(bad.statusCode, 401)
  t.same(failing.touched, [])

  // The control: the store really is failing — /v1/me needs it and says so with a 503.
  const me = await ctx.app.inject({ url: '/v1/me', headers: bearer(accessToken) })
  assertProblem(t, me, 503, 'ERR_SERVICE_UNAVAILABLE')
  t.match(me.headers['retry-after'], /^\d+$/, 'retry-after in seconds')
  t.ok(failing.touched.includes('findById'), 'and /v1/me did ask the store')
})

t.test('whoami still answers when the store throws synchronously on any method', async (t) => {
  const clock = new ManualClock(START)
  const failing = failingStore(clock)
  const ctx = await build(t, { clock, store: failing.store })
  const { accessToken, user } = await register(ctx.app)
  failing.fail('throw')
  const res = await whoami(ctx, accessToken)
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().sub, user.id)
  t.same(failing.touched, [])
})

t.test('a DPoP-bound token: whoami checks the proof and still reads nothing from a failing store', async (t) => {
  const clock = new ManualClock(Date.now())
  const failing = failingStore(clock)
  const ctx = await build(t, { clock, store: failing.store })
  const key = proofKey()
  const proof = await makeProof(key, { htm: 'POST', htu: `${INJECT_ORIGIN}/v1/auth/register` }, {}, clock.now())
  const reg = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', headers: { dpop: proof }, payload: { email: 'a@example.com', password: PASSWORD } })
  const { accessToken } = reg.json<AuthResultBody>()
  failing.fail('throw')
  const res = await dpopInject(ctx.app, key, accessToken, 'GET', WHOAMI, clock.now())
  t.equal(res.statusCode, 200, res.body)
  t.same(failing.touched, [])
})

async function threeTokens (ctx: TestContext): Promise<string[]> {
  const out: string[] = []
  for (const name of ['ann', 'bob', 'cy']) out.push((await register(ctx.app, `${name}@example.com`)).accessToken)
  return out
}

/** Verify each token in order, every one must pass; returns how many signatures were checked. */
async function verifyAll (t: Test, ctx: TestContext, tokens: string[]): Promise<number> {
  signatureChecks.reset()
  for (const token of tokens) {
    const res = await whoami(ctx, token)
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.json().jti, claimsOf(token).jti)
  }
  return signatureChecks.count
}

const withCache = (size: string): BuildOptions => ({ env: { JWT_VERIFY_CACHE: size } })

t.test('the counter sees signature checks (so the cache assertions below are not vacuous)', async (t) => {
  const ctx = await build(t, withCache('0'))
  const [a] = await threeTokens(ctx)
  t.equal(await verifyAll(t, ctx, [a]), 1)
})

t.test('JWT_VERIFY_CACHE=2: the cache is bounded — three tokens round-robin all verify, and each is checked again', async (t) => {
  const ctx = await build(t, withCache('2'))
  t.equal(ctx.config.jwt.verifyCacheSize, 2)
  const [a, b, c] = await threeTokens(ctx)
  // With room for two, a round-robin over three always evicts the one needed next (LRU): every request
  // is a miss. An unbounded cache would check each signature once (3).
  t.equal(await verifyAll(t, ctx, [a, b, c, a, b, c, a, b, c]), 9)
  // It is still a cache: the same token twice in a row is one check.
  t.equal(await verifyAll(t, ctx, [a, a, a]), 1)
  t.equal(await verifyAll(t, ctx, [a, b, a, b]), 1, 'b was evicted by the previous round; a and b now both fit')
})

t.test('the default cache (10000) checks each token once', async (t) => {
  const ctx = await build(t)
  t.equal(ctx.config.jwt.verifyCacheSize, 10_000)
  const [a, b, c] = await threeTokens(ctx)
  t.equal(await verifyAll(t, ctx, [a, b, c, a, b, c, c, b, a]), 3)
})

t.test('refused tokens never enter the cache, so a flood of bad signatures cannot evict good entries', async (t) => {
  const ctx = await build(t, withCache('2'))
  const [a, b] = await threeTokens(ctx)
  t.equal(await verifyAll(t, ctx, [a, b]), 2)
  // Same header and payload as a, another signature: each is checked and refused.
  const [head, body] = a.split('.')
  for (let i = 0; i < 10; i++) {
    const forged = `${head}.${body}.${Buffer.alloc(64, i).toString('base64url')}`
    t.equal((await whoami(ctx, forged)).statusCode, 401)
  }
  t.equal(await verifyAll(t, ctx, [a, b, a, b]), 0, 'a and b are still cached')
})

t.test('JWT_VERIFY_CACHE=0 disables the cache: every request checks the signature', async (t) => {
  const ctx = await build(t, withCache('0'))
  t.equal(ctx.config.jwt.verifyCacheSize, 0)
  const [a, b, c] = await threeTokens(ctx)
  t.equal(await verifyAll(t, ctx, [a, a, b, b, c, c]), 6)
})

for (const size of ['2', '10000', '0']) {
  t.test(`JWT_VERIFY_CACHE=${size}: a cached token that expires on the injected clock is refused`, async (t) => {
    const ctx = await build(t, withCache(size))
    const { accessToken } = await register(ctx.app)
    t.equal(await verifyAll(t, ctx, [accessToken, accessToken]), size === '0' ? 2 : 1)
    const { exp } = claimsOf(accessToken) as { exp: number }
    const tolerance = ctx.config.jwt.clockTolerance

    // Still inside the tolerance: accepted.
    ctx.clock.set((exp + tolerance) * 1000)
    t.equal((await whoami(ctx, accessToken)).statusCode, 200)

    // One second past exp + tolerance: expired, cache or no cache.
    ctx.clock.set((exp + tolerance + 1) * 1000)
    const res = await whoami(ctx, accessToken)
    assertProblem(t, res, 401, 'ERR_TOKEN_EXPIRED')
    t.match(res.headers['www-authenticate'], /^Bearer realm="tessera", error="invalid_token"/)
  })
}

t.test('a cached token whose key is retired is refused (the key is resolved before the cache is read)', async (t) => {
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  t.equal(await verifyAll(t, ctx, [accessToken, accessToken]), 1, 'cached')
  // `keys retire` sets retiredAt; the ring holds this very key object.
  ctx.key.retiredAt = ctx.clock.now()
  const res = await whoami(ctx, accessToken)
  assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
})
