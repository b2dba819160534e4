// Audit findings 9 and 10: ill-formed Unicode in any request string, and control or bidi characters in a name, are 400s on both stores.
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { createSqliteStore } from '../../src/store/sqlite-store'
import type { UserStore } from '../../src/store/user-store'
import { captureLogs } from '../support/mail'
import { postgresStore } from '../store/pg-helper'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, START } from '../support/app'

interface FieldError { path: string, message: string }
const errorsOf = (res: LightMyRequestResponse): FieldError[] => res.json<{ errors: FieldError[] }>().errors

/** Each store the app runs on, fresh, unmigrated (buildApp migrates). */
const STORES: Array<[string, (t: Test, clock: ManualClock) => Promise<UserStore>]> = [
  ['sqlite', async (_t, clock) => createSqliteStore({ path: ':memory:', clock })],
  ['postgres', postgresStore]
]

interface OpenApiSchema { type?: string, anyOf?: OpenApiSchema[], properties?: Record<string, OpenApiSchema>, description?: string }
interface OpenApiOperation { requestBody?: { content?: Record<string, { schema?: OpenApiSchema }> } }

const isString = (s: OpenApiSchema): boolean => s.type === 'string' || (s.anyOf ?? []).some(isString)
/** Password fields answer ill-formed Unicode through the password policy (ERR_PASSWORD_MALFORMED, or login's 401). */
const isPassword = (name: string): boolean => /password/i.test(name)

t.test('finding 9: a lone surrogate in any string field of any request body is a 400 naming the field', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  const doc = await ctx.app.openApiDocument() as { paths: Record<string, Record<string, OpenApiOperation>> }
  let checked = 0
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const properties = operation.requestBody?.content?.['application/json']?.schema?.properties ?? {}
      for (const [field, schema] of Object.entries(properties)) {
        if (!isString(schema) || isPassword(field)) continue
        const url = path.replace('{id}', admin.user.id)
        for (const value of ['x\ud800', '\udc00x', 'x\udbff\udbff']) {
          const res = await ctx.app.inject({ method: method.toUpperCase() as 'POST', url, headers: bearer(admin.accessToken), payload: { [field]: value } })
          assertProblem(t, res, 400, 'ERR_VALIDATION')
          t.strictSame(errorsOf(res), [{ path: `/${field}`, message: 'must be well-formed Unicode (no unpaired surrogate)' }], `${method} ${path} ${field}`)
        }
        checked++
      }
    }
  }
  t.ok(checked >= 6, `every string field checked (${checked}: email, name, tokens…)`)
  // A pair in the right order is one code point, and fine.
  const res = await ctx.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(admin.accessToken), payload: { name: 'Ada \ud83d\udc69' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json<{ name: string }>().name, 'Ada 👩')
})

t.test('finding 9: a lone surrogate in a query string or path parameter is a 400 problem', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  // A URL can carry a surrogate only as its (invalid) UTF-8 encoding.
  for (const url of ['/v1/users/%ED%A0%80', '/v1/users?cursor=%ED%A0%80', '/v1/users/%F0%9F']) {
    const res = await ctx.app.inject({ url, headers: bearer(admin.accessToken) })
    t.equal(res.statusCode, 400, url)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${url}: a problem`)
  }
})

for (const [kind, makeStore] of STORES) {
  t.test(`finding 9 (${kind}): sur\\ud800@ and sur\\ud801@ are refused, not two accounts shown alike (or one)`, async (t) => {
    const clock = new ManualClock(START)
    const ctx = await build(t, { clock, store: await makeStore(t, clock) })
    for (const email of ['sur\ud800@example.com', 'sur\ud801@example.com', 'sur@example.com\udfff']) {
      const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email, password: PASSWORD } })
      assertProblem(t, res, 400, 'ERR_VALIDATION')
      t.equal(errorsOf(res)[0].path, '/email')
      assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } }), 400, 'ERR_VALIDATION')
    }
    t.strictSame(await ctx.store.list({ limit: 10 }), [], 'no account')
    const named = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'sur@example.com', password: PASSWORD, name: 'Sur\ud800' } })
    assertProblem(t, named, 400, 'ERR_VALIDATION')
    t.equal(errorsOf(named)[0].path, '/name')
  })
}

/** Each refused character, with a name for the report. */
const FORBIDDEN: Array<[string, string]> = [
  ['NUL', '\u0000'], ['ESC (terminal escape)', '\u001b[31m'], ['LF', '\n'], ['CR', '\r'], ['TAB', '\t'], ['DEL', '\u007f'],
  ['C1 NEL', '\u0085'], ['C1 CSI', '\u009b'], ['LINE SEPARATOR', '\u2028'], ['PARAGRAPH SEPARATOR', '\u2029'],
  ['LRE', '\u202a'], ['RLE', '\u202b'], ['PDF', '\u202c'], ['LRO', '\u202d'], ['RLO', '\u202e'],
  ['LRI', '\u2066'], ['RLI', '\u2067'], ['FSI', '\u2068'], ['PDI', '\u2069']
]

for (const [kind, makeStore] of STORES) {
  t.test(`finding 10 (${kind}): a control character or bidi override in name is a 400 naming it, never a 500`, async (t) => {
    const clock = new ManualClock(START)
    const { logger, logs } = captureLogs()
    const ctx = await build(t, { clock, store: await makeStore(t, clock), logger })
    const alice = await register(ctx.app, 'alice@example.com')
    for (const [label, c] of FORBIDDEN) {
      const reg = await ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'eve@example.com', password: PASSWORD, name: `Eve${c}Admin` } })
      assertProblem(t, reg, 400, 'ERR_VALIDATION')
      t.equal(errorsOf(reg)[0]?.path, '/name', `register: ${label}`)
      const patch = await ctx.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(alice.accessToken), payload: { name: `${c}Alice` } })
      assertProblem(t, patch, 400, 'ERR_VALIDATION')
      t.equal(errorsOf(patch)[0]?.path, '/name', `PATCH /v1/me: ${label}`)
    }
    t.equal(await ctx.store.findByEmail('eve@example.com'), null, 'no account')
    t.equal((await ctx.store.findById(alice.user.id))?.name, null, 'name unchanged')
    t.equal(logs.lines.filter((l) => Number(l.level) >= 50).length, 0, 'nothing logged at error level')

    // What people write is kept: accents, CJK, emoji with joiners, right-to-left script, inner spaces.
    for (const name of ['Zoë Ünal-O\'Brien', '山田 太郎', '👩‍💻 Ada', 'مريم']) {
      const ok = await ctx.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(alice.accessToken), payload: { name } })
      t.equal(ok.statusCode, 200, `${name}: ${ok.body}`)
      t.equal((await ctx.store.findById(alice.user.id))?.name, name)
    }
  })
}
