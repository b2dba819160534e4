// Public routes: health probes, the JWKS with caching headers, the not-found problem, the OpenAPI document and Swagger UI.
import t from 'tap'
import { ManualClock } from '../../../src/clock'
import { createSqliteStore } from '../../../src/store/sqlite-store'
import { StoreUnavailableError, type UserStore } from '../../../src/store/user-store'
import { assertProblem, build, START } from '../../support/app'

/** A store that works except that `ping` fails: a Proxy delegates everything else to the real one. */
function storeWithFailingPing (real: UserStore, failure: () => Promise<void>): UserStore {
  return new Proxy(real, {
    get (target, prop) {
      if (prop === 'ping') return failure
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
}

t.test('GET /health/live', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ url: '/health/live' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

t.test('GET /health/ready: 200 when the store answers', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

t.test('GET /health/ready: 503 with Retry-After when the store does not answer', async (t) => {
  const cases = [
    { name: 'ping rejects', failure: async () => { throw new Error('connection refused') } },
    { name: 'ping reports the store unavailable', failure: async () => { throw new StoreUnavailableError({ cause: new Error('ECONNRESET') }) } },
    // Costs the real 2 s readiness timeout: a hung database must not hang the probe.
    { name: 'ping never answers', failure: () => new Promise<void>(() => {}) }
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const clock = new ManualClock(START)
      const store = storeWithFailingPing(createSqliteStore({ path: ':memory:', clock }), c.failure)
      const ctx = await build(t, { clock, store })
      const res = await ctx.app.inject({ url: '/health/ready' })
      assertProblem(t, res, 503, 'ERR_SERVICE_UNAVAILABLE')
      t.match(res.headers['retry-after'], /^\d+$/)
      t.notMatch(res.body, /connection refused|ECONNRESET/, 'no internals echoed')
      t.equal((await ctx.app.inject({ url: '/health/live' })).statusCode, 200, 'liveness does not depend on the store')
    })
  }
})

t.test('GET /.well-known/jwks.json: exactly the public key, cacheable, with an ETag', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ url: '/.well-known/jwks.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'public, max-age=600')
  const etag = res.headers.etag
  t.match(etag, /^"[^"]+"$/, 'a strong ETag')

  const { keys } = res.json<{ keys: Array<Record<string, unknown>> }>()
  t.equal(keys.length, 1, 'one key')
  t.same(Object.keys(keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x'], 'only public members')
  t.match(keys[0], { kid: ctx.key.kid, alg: 'EdDSA', use: 'sig', kty: 'OKP', crv: 'Ed25519' })
  t.notOk('d' in keys[0], 'no private part')

  const again = await ctx.app.inject({ url: '/.well-known/jwks.json' })
  t.equal(again.headers.etag, etag, 'stable ETag')

  for (const ifNoneMatch of [etag as string, `W/${etag as string}`, `"other", ${etag as string}`]) {
    const cached = await ctx.app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': ifNoneMatch } })
    await t.test(`If-None-Match: ${ifNoneMatch}`, async (t) => {
      t.equal(cached.statusCode, 304)
      t.equal(cached.body, '')
      t.equal(cached.headers.etag, etag)
      t.equal(cached.headers['cache-control'], 'public, max-age=600')
    })
  }
  const stale = await ctx.app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': '"something-else"' } })
  t.equal(stale.statusCode, 200, 'a different ETag gets the body')
})

t.test('JWKS_MAX_AGE sets the cache lifetime', async (t) => {
  const ctx = await build(t, { env: { JWKS_MAX_AGE: '1h' } })
  const res = await ctx.app.inject({ url: '/.well-known/jwks.json' })
  t.equal(res.headers['cache-control'], 'public, max-age=3600')
})

t.test('an unknown route is a 404 problem', async (t) => {
  const ctx = await build(t)
  for (const r of [{ method: 'GET' as const, url: '/nope' }, { method: 'POST' as const, url: '/v1/auth/nope' }, { method: 'GET' as const, url: '/v2/me' }]) {
    const res = await ctx.app.inject(r)
    await t.test(`${r.method} ${r.url}`, async (t) => assertProblem(t, res, 404, 'ERR_NOT_FOUND'))
  }
})

t.test('GET /openapi.json is the OpenAPI 3.1 document', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const doc = res.json<{ openapi: string, info: { title: string }, paths: Record<string, unknown> }>()
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.title, 'Tessera')
  t.ok(doc.paths['/v1/auth/login'], 'documents login')
})

t.test('Swagger UI under /docs: its page, its files with revalidation, the same document, and 404s as problems', async (t) => {
  const ctx = await build(t)
  for (const url of ['/docs', '/docs/']) {
    const page = await ctx.app.inject({ url })
    t.equal(page.statusCode, 200, url)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, /swagger-ui/)
  }
  const css = await ctx.app.inject({ url: '/docs/static/swagger-ui.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /^text\/css/)
  t.ok(css.body.length > 10_000, 'the stylesheet itself')
  const etag = css.headers.etag
  t.type(etag, 'string', 'files carry an ETag')
  const again = await ctx.app.inject({ url: '/docs/static/swagger-ui.css', headers: { 'if-none-match': String(etag) } })
  t.equal(again.statusCode, 304, 'a revalidation is answered 304')
  t.equal(again.body, '')
  const head = await ctx.app.inject({ method: 'HEAD', url: '/docs/' })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
  const json = await ctx.app.inject({ url: '/docs/json' })
  t.same(json.json(), (await ctx.app.inject({ url: '/openapi.json' })).json(), 'Swagger UI shows the document /openapi.json serves')
  assertProblem(t, await ctx.app.inject({ url: '/docs/static/nothing-here.js' }), 404, 'ERR_NOT_FOUND')
})
