// POST /v1/auth/login: success, one indistinguishable 401 for every bad credential, disabled accounts, rehash on login.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { ManualClock } from '../../../src/clock'
import type * as hasherModule from '../../../src/lib/password-hasher'
import { createSqliteStore } from '../../../src/store/sqlite-store'
import { assertProblem, bearer, build, PASSWORD, register, START, type AuthResultBody } from '../../support/app'

const URL = '/v1/auth/login'

const withoutDate = (res: LightMyRequestResponse): Record<string, unknown> => {
  const rest: Record<string, unknown> = { ...res.headers }
  delete rest.date
  return rest
}

t.test('the right email and password give 200 with fresh tokens', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  ctx.clock.advance(60_000)
  const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json<AuthResultBody>()
  t.same(body.user, reg.user)
  t.equal(body.tokenType, 'Bearer')
  t.equal(body.expiresIn, 900)
  t.equal(body.refreshExpiresIn, 30 * 24 * 3600)
  t.not(body.accessToken, reg.accessToken)
  t.not(body.refreshToken, reg.refreshToken)
  const who = await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(body.accessToken) })
  t.equal(who.statusCode, 200)
  t.equal(who.json().sub, reg.user.id)
})

t.test('the email is matched in normal form and the password after NFKC', async (t) => {
  const ctx = await build(t)
  // Fullwidth letters typed on one device must match the ASCII typed on another.
  await register(ctx.app, 'bob@example.com', 'ｃｏｒｒｅｃｔ horse battery staple')
  const cases = [
    { email: 'bob@example.com', password: PASSWORD },
    { email: '  BOB@Example.COM ', password: PASSWORD },
    { email: 'ｂｏｂ@example.com', password: 'ｃｏｒｒｅｃｔ horse battery staple' }
  ]
  for (const payload of cases) {
    const res = await ctx.app.inject({ method: 'POST', url: URL, payload })
    t.equal(res.statusCode, 200, JSON.stringify(payload))
  }
})

t.test('every bad credential gets the same 401, the same body, the same headers and one argon2 verify', async (t) => {
  const ctx = await build(t)
  await register(ctx.app)
  const cases: Array<{ name: string, email: string, password: string }> = [
    { name: 'unknown email', email: 'nobody@example.com', password: PASSWORD },
    { name: 'wrong password', email: 'alice@example.com', password: 'correct horse battery stapler' },
    { name: 'wrong-case password', email: 'alice@example.com', password: PASSWORD.toUpperCase() },
    { name: 'password with a trailing space', email: 'alice@example.com', password: PASSWORD + ' ' },
    { name: 'one-character password', email: 'alice@example.com', password: ' ' },
    { name: 'unknown email, one-character password', email: 'nobody@example.com', password: 'x' },
    { name: 'blank email', email: '   ', password: PASSWORD },
    { name: 'email that is not an address', email: 'alice', password: PASSWORD },
    { name: 'lone surrogate in the password', email: 'alice@example.com', password: 'abc\ud800' },
    { name: 'password too long for the policy', email: 'alice@example.com', password: 'x'.repeat(200) }
  ]
  let reference: LightMyRequestResponse | undefined
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const before = ctx.hasher.verifications
      // One request id for all: it is echoed, and would be the only difference.
      const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: c.email, password: c.password }, headers: { 'x-request-id': 'same-for-every-case' } })
      t.equal(ctx.hasher.verifications - before, 1, 'exactly one argon2 verify')
      assertProblem(t, res, 401, 'ERR_INVALID_CREDENTIALS')
      t.notOk(res.headers['www-authenticate'], 'not a Bearer challenge')
      reference ??= res
      t.equal(res.body, reference.body, 'byte-identical body')
      t.same(withoutDate(res), withoutDate(reference), 'identical headers except date')
    })
  }
})

t.test('a disabled account: 403 only with the right password, 401 otherwise', async (t) => {
  const ctx = await build(t)
  const { user } = await register(ctx.app)
  await ctx.store.update(user.id, { disabled: true })

  const right = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: PASSWORD } })
  assertProblem(t, right, 403, 'ERR_ACCOUNT_DISABLED')
  t.equal(right.headers['cache-control'], undefined, 'no tokens, nothing to protect')

  // One request id for both: it is echoed, and would be the only difference.
  const headers = { 'x-request-id': 'same-for-both' }
  const wrong = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: 'not the password at all' }, headers })
  assertProblem(t, wrong, 401, 'ERR_INVALID_CREDENTIALS')
  const unknown = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'nobody@example.com', password: 'not the password at all' }, headers })
  t.equal(wrong.body, unknown.body, 'a stranger cannot tell a disabled account from none')
})

t.test('bad bodies are 400 ERR_VALIDATION', async (t) => {
  const ctx = await build(t)
  const cases: Array<{ name: string, payload: unknown }> = [
    { name: 'missing password', payload: { email: 'alice@example.com' } },
    { name: 'empty password', payload: { email: 'alice@example.com', password: '' } },
    { name: 'password as array', payload: { email: 'alice@example.com', password: [PASSWORD] } },
    { name: 'unknown property', payload: { email: 'alice@example.com', password: PASSWORD, remember: true } },
    { name: 'over-long password', payload: { email: 'alice@example.com', password: 'x'.repeat(300) } }
  ]
  for (const c of cases) {
    const before = ctx.hasher.verifications
    const res = await ctx.app.inject({ method: 'POST', url: URL, payload: c.payload as Record<string, unknown> })
    await t.test(c.name, async (t) => {
      assertProblem(t, res, 400, 'ERR_VALIDATION')
      t.equal(ctx.hasher.verifications, before, 'refused before argon2 runs')
    })
  }
})

t.test('a hash made with old argon2 parameters is upgraded on the next successful login', async (t) => {
  // Both apps share one store (as two deployments of one database would). Each app closes it on
  // teardown; better-sqlite3's close is idempotent, so the second close is harmless.
  const clock = new ManualClock(START)
  const store = createSqliteStore({ path: ':memory:', clock })
  const oldApp = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '1' } })
  const { user } = await register(oldApp.app)
  const before = (await store.findById(user.id))!.passwordHash
  t.match(before, /\$m=8192,t=1,p=1\$/)

  const newApp = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '2' } })
  const login = () => newApp.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: PASSWORD } })
  const first = await login()
  t.equal(first.statusCode, 200, first.body)
  const after = (await store.findById(user.id))!.passwordHash
  t.match(after, /^\$argon2id\$v=19\$m=8192,t=2,p=1\$/, 'rehashed with t=2')
  t.not(after, before)

  const second = await login()
  t.equal(second.statusCode, 200, 'the upgraded hash verifies')
  t.equal((await store.findById(user.id))!.passwordHash, after, 'no second rehash once current')
  const wrong = await newApp.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: 'wrong wrong wrong wrong' } })
  assertProblem(t, wrong, 401, 'ERR_INVALID_CREDENTIALS')
  t.equal(second.json<AuthResultBody>().user.id, user.id)
})

t.test('a failed login does not rehash', async (t) => {
  const clock = new ManualClock(START)
  const store = createSqliteStore({ path: ':memory:', clock })
  const oldApp = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '1' } })
  const { user } = await register(oldApp.app)
  const before = (await store.findById(user.id))!.passwordHash
  const newApp = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '2' } })
  const res = await newApp.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: 'wrong wrong wrong wrong' } })
  assertProblem(t, res, 401, 'ERR_INVALID_CREDENTIALS')
  t.equal((await store.findById(user.id))!.passwordHash, before)
})

t.test('finding 4: across an argon2 parameter change, an unknown email does the same argon2 work as an existing account', async (t) => {
  // Spy on the argon2 package the hasher loads: the (m, t) of every verification a login performs, dummy or real.
  // Work is counted, not timed: equal parameter sets are equal cost, on any machine.
  const argon2 = await import('argon2')
  const performed: string[] = []
  const { PasswordHasher: Spied } = t.mockRequire<typeof hasherModule>('../../../src/lib/password-hasher', {
    argon2: {
      ...argon2,
      verify: (digest: string, password: string) => {
        performed.push(`m=${/m=(\d+)/.exec(digest)?.[1]},t=${/t=(\d+)/.exec(digest)?.[1]}`)
        return argon2.verify(digest, password)
      }
    }
  })
  const clock = new ManualClock(START)
  const store = createSqliteStore({ path: ':memory:', clock })
  // Registered under the old parameters (t=1), then dormant: its hash stays old until it next logs in.
  const before = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '1' } })
  await register(before.app, 'dormant@example.com')
  // Restarted with t=2; one account registers under the new parameters.
  const after = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '2' }, hasher: new Spied({ memoryCost: 8192, timeCost: 2, parallelism: 1 }) })
  await register(after.app, 'fresh@example.com')

  const workOf = async (email: string): Promise<string[]> => {
    performed.length = 0
    const res = await after.app.inject({ method: 'POST', url: URL, payload: { email, password: 'not the password at all' } })
    assertProblem(t, res, 401, 'ERR_INVALID_CREDENTIALS')
    return [...performed].sort()
  }
  // The unknown email first: nothing about the dormant account has been seen since the restart but the store.
  const unknown = await workOf('nobody@example.com')
  t.strictSame(unknown, ['m=8192,t=1', 'm=8192,t=2'], 'an unknown email pays for every parameter set stored')
  t.strictSame(await workOf('dormant@example.com'), unknown, 'a wrong password on an old hash: the same work')
  t.strictSame(await workOf('fresh@example.com'), unknown, 'a wrong password on a current hash: the same work')
  t.strictSame(await workOf('not an address'), unknown, 'an address outside the grammar: the same work')

  // The right password pays for its own hash (and upgrades it); once no old hash is left, a restart drops t=1.
  const ok = await after.app.inject({ method: 'POST', url: URL, payload: { email: 'dormant@example.com', password: PASSWORD } })
  t.equal(ok.statusCode, 200, ok.body)
  const restarted = await build(t, { clock, store, env: { ARGON2_ITERATIONS: '2' }, hasher: new Spied({ memoryCost: 8192, timeCost: 2, parallelism: 1 }) })
  performed.length = 0
  const res = await restarted.app.inject({ method: 'POST', url: URL, payload: { email: 'nobody@example.com', password: PASSWORD } })
  assertProblem(t, res, 401, 'ERR_INVALID_CREDENTIALS')
  t.strictSame(performed, ['m=8192,t=2'], 'only the current set once every hash is current')
})
