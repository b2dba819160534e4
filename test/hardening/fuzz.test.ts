// Generated hostile input (fast-check, fixed seed): Authorization values and JSON bodies never cause a 5xx or a change on refusal.
import { sign } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import fc from 'fast-check'
import t from 'tap'
import type { UserStore } from '../../src/store/user-store'
import { bearer, build, PASSWORD, register, type TestContext } from '../support/app'

/** Reproduce a failure with FUZZ_SEED=<seed printed in the test name>; FUZZ_RUNS scales every property. */
const SEED = Number(process.env.FUZZ_SEED ?? 0x7e55e7a)
const SCALE = Number(process.env.FUZZ_RUNS ?? 1)
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE))

/** A property check that throws, so fast-check can shrink it (thousands of t.equal would drown the report). */
function check (condition: boolean, message: string, res: LightMyRequestResponse): void {
  if (!condition) throw new Error(`${message}: ${res.statusCode} ${String(res.headers['content-type'])} ${res.body.slice(0, 300)}`)
}

/** What Node hands the app for a header sent as UTF-8: bytes read as latin1, with no CTLs but HTAB, trimmed (RFC 9110 §5.5). */
const asHeaderValue = (s: string): string =>
  Buffer.from(s, 'utf8').toString('latin1').replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '').trim() // eslint-disable-line no-control-regex

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value) ?? '', 'utf8').toString('base64url')

/** Every problem body has the RFC 9457 members, matches the status, and names no library internals. */
function checkProblem (res: LightMyRequestResponse): { code: string } {
  check(/^application\/problem\+json/.test(String(res.headers['content-type'])), 'problem+json', res)
  const body = res.json<{ type: unknown, title: unknown, status: unknown, detail: unknown, code: unknown }>()
  check(body.status === res.statusCode && typeof body.title === 'string' && typeof body.detail === 'string', 'RFC 9457 members', res)
  check(typeof body.code === 'string' && /^ERR_[A-Z_]+$/.test(body.code), 'a stable code', res)
  check(!/FAST_JWT|FST_|\n\s+at /.test(res.body), 'no library code or stack', res)
  return body as { code: string }
}

/** Outcomes seen, printed as a comment and used to show the generators reach more than the first refusal. */
function tally (): { add: (key: string) => void, seen: Map<string, number> } {
  const seen = new Map<string, number>()
  return { add: (key) => seen.set(key, (seen.get(key) ?? 0) + 1), seen }
}

/** Statuses the OpenAPI document lists for an operation: "documented" is read from the spec, not restated here. */
async function documentedStatuses (app: FastifyInstance, method: string, path: string): Promise<Set<number>> {
  const doc = await app.openApiDocument() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
  return new Set(Object.keys(doc.paths[path][method.toLowerCase()].responses).map(Number))
}

/** Every user row, hash and token version included: a refused request must leave this byte-identical. */
const snapshot = async (store: UserStore): Promise<string> => JSON.stringify(await store.list({ limit: 100_000 }))

// --- (a) Authorization header values against GET /v1/auth/whoami -------------------------------------------

const ALGS = ['none', 'None', 'HS256', 'HS512', 'RS256', 'PS256', 'ES256', 'ES512', 'EdDSA', 'Ed25519', 'garbage', '']

function authorizationValues (ctx: TestContext, trapUrl: string): fc.Arbitrary<string> {
  const now = Math.floor(ctx.clock.now() / 1000)
  const valid = { iss: ctx.config.jwt.issuer, aud: ctx.config.jwt.audience, sub: 'fuzz-sub', role: 'user', iat: now, exp: now + 900, jti: 'fuzz-jti' }
  const plausible = <T>(v: T): fc.Arbitrary<unknown> => fc.oneof(fc.constant(v), fc.jsonValue({ maxDepth: 2 }))
  const header = fc.record({
    alg: fc.oneof(fc.constantFrom(...ALGS), fc.jsonValue({ maxDepth: 1 })),
    kid: plausible(ctx.key.kid),
    typ: fc.oneof(fc.constantFrom('at+jwt', 'rt+jwt', 'JWT', 'application/at+jwt'), fc.jsonValue({ maxDepth: 1 })),
    crit: fc.oneof(fc.array(fc.constantFrom('exp', 'b64', 'jku', 'x-unknown')), fc.jsonValue({ maxDepth: 1 })),
    jku: fc.oneof(fc.constant(trapUrl), fc.webUrl(), fc.jsonValue({ maxDepth: 1 })),
    x5u: fc.constant(trapUrl)
  }, { requiredKeys: [] })
  const claims = fc.record({
    iss: plausible(valid.iss),
    aud: plausible(valid.aud),
    sub: plausible(valid.sub),
    role: fc.oneof(fc.constantFrom('user', 'admin', 'root'), fc.jsonValue({ maxDepth: 1 })),
    iat: plausible(valid.iat),
    exp: plausible(valid.exp),
    nbf: plausible(now),
    jti: plausible(valid.jti)
  }, { requiredKeys: [] })
  const anyJson = fc.jsonValue({ maxDepth: 3 })
  const signature = fc.uint8Array({ maxLength: 96 }).map((bytes) => Buffer.from(bytes).toString('base64url'))
  const jwtShaped = fc.tuple(fc.oneof(header, anyJson), fc.oneof(claims, anyJson), signature)
    .map(([h, c, s]) => `${b64(h)}.${b64(c)}.${s}`)

  // Signed with the real key, so every check after the signature runs; one required claim at least has the wrong JSON type or is missing.
  const keys = Object.keys(valid) as Array<keyof typeof valid>
  const wrongTyped = fc.record(Object.fromEntries(keys.map((k) =>
    [k, fc.option(fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== typeof valid[k]), { nil: undefined })]
  )) as Record<keyof typeof valid, fc.Arbitrary<unknown>>)
  // Mostly the right typ and no crit, so most of these get past the header checks to the claims.
  const signedHeader = fc.record({
    typ: fc.oneof({ weight: 4, arbitrary: fc.constant('at+jwt') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
    crit: fc.array(fc.constantFrom('exp', 'b64', 'x-unknown'), { minLength: 1 }),
    jku: fc.constant(trapUrl)
  }, { requiredKeys: ['typ'] })
  const signed = fc.tuple(fc.subarray(keys, { minLength: 1 }), wrongTyped, signedHeader).map(([broken, replacement, h]) => {
    const payload: Record<string, unknown> = { ...valid }
    for (const k of broken) payload[k] = replacement[k]
    const input = `${b64({ ...h, alg: 'EdDSA', kid: ctx.key.kid })}.${b64(payload)}`
    return `${input}.${sign(null, Buffer.from(input), ctx.key.privateKey).toString('base64url')}`
  })
  const segments = fc.array(fc.string({ unit: 'binary', maxLength: 40 }).map((s) => b64(s)), { minLength: 1, maxLength: 5 }).map((p) => p.join('.'))

  const token = fc.oneof(jwtShaped, signed, segments, fc.string({ maxLength: 60 }))
  // Weighted towards "Bearer <something token-like>": plain noise stops at the scheme check, which is cheap to reach.
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }).map(asHeaderValue),
    fc.string({ unit: 'binary-ascii' }).map(asHeaderValue),
    fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', 'Bearerx'), fc.constantFrom(' ', '  ', '\t', ''), fc.string())
      .map(([scheme, sep, rest]) => asHeaderValue(`${scheme}${sep}${rest}`)),
    {
      weight: 6,
      arbitrary: fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Bearer   '), token).map(([scheme, tok]) => asHeaderValue(scheme + tok))
    }
  )
}

const BARE = 'Bearer realm="tessera"'
/** The RFC 6750 §3 challenge Tessera documents for each status and error. */
const CHALLENGE: Record<string, RegExp> = {
  ERR_AUTH_MALFORMED: /^Bearer realm="tessera", error="invalid_request", error_description="[^"]*"$/,
  ERR_TOKEN_INVALID: /^Bearer realm="tessera", error="invalid_token", error_description="[^"]*"$/,
  ERR_TOKEN_EXPIRED: /^Bearer realm="tessera", error="invalid_token", error_description="[^"]*"$/
}
const CODES_BY_STATUS: Record<number, string[]> = {
  400: ['ERR_AUTH_MALFORMED'],
  401: ['ERR_AUTH_REQUIRED', 'ERR_TOKEN_INVALID', 'ERR_TOKEN_EXPIRED']
}

const WHOAMI_RUNS = runs(2500)

t.test(`whoami: any Authorization value is a 400 or 401 with the documented challenge (seed ${SEED}, ${WHOAMI_RUNS} runs)`, async (t) => {
  const ctx = await build(t)
  // jku / x5u point here: the verifier must never fetch a key a token names.
  let fetches = 0
  const trap = createServer((_req, res) => { fetches++; res.end('{"keys":[]}') })
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { trap.closeAllConnections(); trap.close() })
  const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks.json`

  const outcomes = tally()
  await fc.assert(fc.asyncProperty(authorizationValues(ctx, trapUrl), async (authorization) => {
    const res = await ctx.app.inject({ url: '/v1/auth/whoami', headers: { authorization } })
    check(res.statusCode === 400 || res.statusCode === 401, 'status 400 or 401', res)
    const { code } = checkProblem(res)
    check(CODES_BY_STATUS[res.statusCode].includes(code), `a documented code for ${res.statusCode}`, res)
    const challenge = String(res.headers['www-authenticate'])
    check(code === 'ERR_AUTH_REQUIRED' ? challenge === BARE : CHALLENGE[code].test(challenge), 'the documented WWW-Authenticate', res)
    outcomes.add(`${code}: ${res.json<{ detail: string }>().detail}`)
  }), { seed: SEED, numRuns: WHOAMI_RUNS })

  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes.seen), null, 1)}`)
  const reached = (text: string): boolean => [...outcomes.seen.keys()].some((k) => k.includes(text))
  for (const code of ['ERR_AUTH_REQUIRED', 'ERR_AUTH_MALFORMED', 'ERR_TOKEN_INVALID']) t.ok(reached(code), `reached ${code}`)
  // Only a token whose signature verified gets this far: the claim checks after the signature were exercised.
  t.ok(reached('The token claims are invalid'), 'reached the claim checks behind a valid signature')
  t.equal(fetches, 0, 'no jku / x5u was fetched')
})

// --- (b) JSON bodies against every endpoint that reads one ----------------------------------------------------

/** A string far over any field limit, or over the 16 KiB body limit; built by repetition because generating it char by char is slow. */
const huge = fc.tuple(fc.constantFrom('x', 'é', '😀', '\u0000', '"'), fc.integer({ min: 129, max: 20_000 })).map(([c, n]) => c.repeat(n))
/** A value of any JSON type for a field whose right type is a string. */
const fieldValue = (plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary: plausible }, fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: 'binary' }), huge)

/** An object with the endpoint's keys (some dropped, maybe an unknown one added), or any JSON at all. */
function bodies (model: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const extra = fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }))
  const known = fc.oneof({ weight: 3, arbitrary: fc.record(model) }, fc.record(model, { requiredKeys: [] }))
  const shaped = fc.tuple(known, extra).map(([fields, more]) => ({ ...more, ...fields }))
  return fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) })
}

interface Endpoint { method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body: fc.Arbitrary<unknown>, bearer: boolean }

const BODY_RUNS = runs(400)
const RAW_RUNS = runs(400)

t.test(`bodies: every endpoint answers any JSON with success or a documented 4xx, and a refusal changes nothing (seed ${SEED})`, async (t) => {
  const ctx = await build(t)
  const alice = await register(ctx.app, 'alice@example.com')
  // The current password of alice, substituted for this marker at send time (a password change may succeed and move it).
  const CURRENT = '\u0000current password\u0000'
  let current = PASSWORD
  const email = fc.oneof(fc.constantFrom('alice@example.com', ' ALICE@example.com', 'bob@example.com'), fc.emailAddress())
  const password = fc.oneof(fc.constant(PASSWORD), fc.string({ minLength: 15, maxLength: 40 }), fc.constant('password'), fc.string({ maxLength: 20 }))
  const refreshToken = fc.oneof(
    fc.constant(alice.refreshToken), fc.constant(alice.accessToken),
    fc.tuple(fc.jsonValue(), fc.jsonValue(), fc.uint8Array({ maxLength: 64 })).map(([h, c, s]) => `${b64(h)}.${b64(c)}.${Buffer.from(s).toString('base64url')}`)
  )
  const endpoints: Endpoint[] = [
    { method: 'POST', path: '/v1/auth/register', bearer: false, body: bodies({ email: fieldValue(email), password: fieldValue(password), name: fieldValue(fc.option(fc.string())) }) },
    { method: 'POST', path: '/v1/auth/login', bearer: false, body: bodies({ email: fieldValue(email), password: fieldValue(password) }) },
    { method: 'POST', path: '/v1/auth/refresh', bearer: false, body: bodies({ refreshToken: fieldValue(refreshToken) }) },
    { method: 'PATCH', path: '/v1/me', bearer: true, body: bodies({ name: fieldValue(fc.option(fc.string({ maxLength: 100 }))) }) },
    { method: 'PUT', path: '/v1/me/password', bearer: true, body: bodies({ currentPassword: fieldValue(fc.oneof(fc.constant(CURRENT), password)), newPassword: fieldValue(password) }) },
    // Never the right password: a deleted alice would end the run; deletion itself is covered in test/routes/me/.
    { method: 'DELETE', path: '/v1/me', bearer: true, body: bodies({ password: fieldValue(fc.string({ minLength: 1 })) }) }
  ]

  const send = async (e: Endpoint, payload: string, contentType: string | undefined): Promise<LightMyRequestResponse> => {
    const headers: Record<string, string> = e.bearer ? bearer(alice.accessToken) : {}
    if (contentType !== undefined) headers['content-type'] = contentType
    return await ctx.app.inject({ method: e.method, url: e.path, headers, payload } satisfies InjectOptions)
  }

  /** The invariant for one request: a documented status below 500; on a refusal, the store is as it was. */
  const judge = async (e: Endpoint, before: string, res: LightMyRequestResponse, outcomes: ReturnType<typeof tally>): Promise<void> => {
    check((await documentedStatuses(ctx.app, e.method, e.path)).has(res.statusCode), `a status documented for ${e.method} ${e.path}`, res)
    check(res.statusCode < 500, 'not a 5xx', res)
    outcomes.add(`${e.method} ${e.path} ${res.statusCode}`)
    if (res.statusCode >= 400) {
      checkProblem(res)
      check(await snapshot(ctx.store) === before, 'a refused request changed nothing', res)
    }
  }

  for (const e of endpoints) {
    await t.test(`${e.method} ${e.path}: ${BODY_RUNS} generated JSON bodies`, async (t) => {
      const outcomes = tally()
      await fc.assert(fc.asyncProperty(e.body, async (body) => {
        const payload = JSON.stringify(body, (_k, v: unknown) => v === CURRENT ? current : v)
        const before = await snapshot(ctx.store)
        const users = (await ctx.store.list({ limit: 100_000 })).length
        const res = await send(e, payload, 'application/json')
        await judge(e, before, res, outcomes)
        if (res.statusCode === 201) check((await ctx.store.list({ limit: 100_000 })).length === users + 1, 'a 201 adds exactly one user', res)
        if (e.path === '/v1/auth/login' || e.path === '/v1/auth/refresh') check(await snapshot(ctx.store) === before, 'login and refresh write nothing', res)
        if (e.path === '/v1/me/password' && res.statusCode === 200) current = (body as { newPassword: string }).newPassword
      }), { seed: SEED, numRuns: BODY_RUNS })
      t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes.seen))}`)
      t.ok([...outcomes.seen.keys()].some((k) => k.endsWith(' 400')), 'reached validation')
    })
  }

  await t.test(`any endpoint: ${RAW_RUNS} raw bodies under assorted content types`, async (t) => {
    const outcomes = tally()
    const contentType = fc.constantFrom(
      'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=utf-16', 'application/jsonx',
      'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/problem+json', undefined
    )
    const raw = fc.oneof(
      fc.string({ unit: 'binary' }), fc.json(), huge, fc.constantFrom('', '{', '{"__proto__":{"role":"admin"}}', '{"constructor":{"prototype":{"x":1}}}', 'null', '[]')
    )
    await fc.assert(fc.asyncProperty(fc.constantFrom(...endpoints), raw, contentType, async (e, payload, type) => {
      const before = await snapshot(ctx.store)
      await judge(e, before, await send(e, payload, type), outcomes)
    }), { seed: SEED, numRuns: RAW_RUNS })
    t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes.seen))}`)
    for (const status of [400, 413, 415]) t.ok([...outcomes.seen.keys()].some((k) => k.endsWith(` ${status}`)), `reached ${status}`)
  })
})
