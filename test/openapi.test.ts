// openapi.yaml: committed = generated, served = committed, and the structure the design promises (security, problems, headers).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { parse, parseDocument, visit } from 'yaml'
import { generateOpenApiYaml } from '../src/openapi'
import { build } from './support/app'

const REPO_ROOT = path.join(__dirname, '..')
const COMMITTED_PATH = path.join(REPO_ROOT, 'openapi.yaml')
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const
const PROBLEM_REF = '#/components/schemas/Problem'
const DESIGN_OPERATIONS = [
  'POST /v1/auth/register', 'POST /v1/auth/login', 'POST /v1/auth/refresh', 'POST /v1/auth/logout-all', 'GET /v1/auth/whoami',
  'GET /v1/me', 'PATCH /v1/me', 'PUT /v1/me/password', 'DELETE /v1/me',
  'GET /v1/users', 'GET /v1/users/{id}', 'PATCH /v1/users/{id}', 'DELETE /v1/users/{id}',
  'GET /.well-known/jwks.json', 'GET /health/live', 'GET /health/ready'
]
const BEARER_PREFIXES = ['/v1/me', '/v1/users', '/v1/auth/whoami', '/v1/auth/logout', '/v1/auth/logout-others', '/v1/auth/logout-all', '/v1/auth/email/resend']

interface Header { schema?: unknown, description?: string }
interface MediaType { schema?: { $ref?: string } & Record<string, unknown>, examples?: Record<string, { summary?: string, value?: Record<string, unknown> }> }
interface Response { description?: string, headers?: Record<string, Header>, content?: Record<string, MediaType> }
interface Parameter { in: string, name: string, required?: boolean }
interface Operation {
  operationId?: string
  tags?: string[]
  summary?: string
  security?: Array<Record<string, string[]>>
  parameters?: Parameter[]
  responses?: Record<string, Response>
}
interface Document {
  openapi: string
  info: { title: string, version: string, license?: { name: string, identifier?: string } }
  servers?: Array<{ url: string }>
  tags?: Array<{ name: string }>
  paths: Record<string, Partial<Record<typeof METHODS[number], Operation>>>
  components: { schemas: Record<string, unknown>, securitySchemes: Record<string, Record<string, unknown>> }
}

const readCommitted = (): string => {
  try {
    return readFileSync(COMMITTED_PATH, 'utf8')
  } catch {
    return ''
  }
}

const committedText = readCommitted()
const doc = parse(committedText) as Document

function operations (d: Document): Array<{ path: string, method: string, op: Operation }> {
  return Object.entries(d.paths).flatMap(([p, item]) =>
    METHODS.flatMap((method) => item[method] === undefined ? [] : [{ path: p, method, op: item[method] as Operation }]))
}

const isBearerPath = (p: string): boolean => BEARER_PREFIXES.some((prefix) => p === prefix || p.startsWith(prefix + '/'))
const headerNames = (r: Response | undefined): string[] => Object.keys(r?.headers ?? {}).map((h) => h.toLowerCase())

t.test('the committed openapi.yaml is what the route schemas generate', async (t) => {
  t.ok(committedText.length > 0, 'openapi.yaml exists at the repository root; run `npm run openapi` to create it')
  const generated = await generateOpenApiYaml()
  // Not t.equal: a 1,400-line diff helps nobody; the fix is always the same command.
  t.ok(generated === committedText, 'openapi.yaml is out of date: run `npm run openapi` and commit the result')
})

t.test('generation ignores the machine: HOST and PORT from the environment do not reach `servers`', async (t) => {
  const saved = { HOST: process.env.HOST, PORT: process.env.PORT }
  process.env.HOST = '10.9.8.7'
  process.env.PORT = '4321'
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  t.equal(await generateOpenApiYaml(), committedText)
})

t.test('GET /openapi.json serves the same operations and components as openapi.yaml', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const served = res.json<Document>()
  t.same(Object.keys(served.paths).sort(), Object.keys(doc.paths).sort(), 'same paths')
  const ops = (d: Document): string[] => operations(d).map(({ path: p, method }) => `${method.toUpperCase()} ${p}`).sort()
  t.same(ops(served), ops(doc), 'same operations')
  t.same(served.components, doc.components, 'same components')
})

t.test('document header: OpenAPI 3.1, bearer scheme, shared components, fixed server', async (t) => {
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.title, 'Tessera')
  const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string, license: string }
  t.equal(doc.info.version, packageJson.version, 'info.version is the package version')
  t.same(doc.info.license, { name: packageJson.license, identifier: packageJson.license })
  t.same(doc.servers, [{ url: 'http://127.0.0.1:3000' }])
  t.match(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  for (const name of ['Problem', 'User', 'AuthResult']) t.ok(name in doc.components.schemas, `components.schemas.${name}`)
  const leaked = Object.keys(doc.components.schemas).filter((n) => /^def-\d+$/.test(n))
  t.same(leaked, [], 'no generated def-N component names')
  t.notOk(committedText.includes('def-'), 'no def-N reference anywhere')
})

t.test('the YAML has no anchors or aliases (shared objects in route schemas)', async (t) => {
  const found: string[] = []
  const parsed = parseDocument(committedText)
  t.same(parsed.errors, [], 'parses without errors')
  visit(parsed, {
    Alias (_key, node) { found.push(`*${node.source}`) },
    Node (_key, node) { if (node.anchor !== undefined) found.push(`&${node.anchor}`) }
  })
  t.same(found, [])
})

t.test('every $ref points to an existing component', async (t) => {
  const refs = new Set<string>()
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === '$ref' && typeof child === 'string') refs.add(child)
        else walk(child)
      }
    }
  }
  walk(doc)
  t.ok(refs.size > 0)
  for (const ref of refs) {
    const match = /^#\/components\/schemas\/([^/]+)$/.exec(ref)
    t.ok(match !== null && match[1] in doc.components.schemas, `${ref} resolves`)
  }
})

t.test('the spec and UI routes are hidden', async (t) => {
  for (const p of Object.keys(doc.paths)) {
    t.notOk(p === '/openapi.json' || p.startsWith('/docs'), `${p} is not documented`)
  }
})

t.test('every operation: tags, summary, responses with descriptions and schemas', async (t) => {
  const declaredTags = new Set((doc.tags ?? []).map((tag) => tag.name))
  const ops = operations(doc)
  // The DESIGN's route table (a trailing slash, as @fastify/swagger writes a prefix's '/' route, is ignored).
  const documented = new Set(ops.map(({ path: p, method }) => `${method.toUpperCase()} ${p.replace(/(.)\/$/, '$1')}`))
  for (const op of DESIGN_OPERATIONS) t.ok(documented.has(op), `${op} is documented`)
  for (const { path: p, method, op } of ops) {
    const id = `${method.toUpperCase()} ${p}`
    t.ok(op.tags !== undefined && op.tags.length > 0, `${id} has tags`)
    for (const tag of op.tags ?? []) t.ok(declaredTags.has(tag), `${id}: tag ${tag} is declared at the top level`)
    t.type(op.summary, 'string', `${id} has a summary`)
    const responses = Object.entries(op.responses ?? {})
    t.ok(responses.some(([code]) => /^2\d\d$/.test(code)), `${id} declares a success response`)
    for (const [code, response] of responses) {
      t.type(response.description, 'string', `${id} ${code} has a description`)
      if (code !== '204' && code !== '304') {
        const media = Object.values(response.content ?? {})
        t.ok(media.length > 0 && media.every((m) => m.schema !== undefined), `${id} ${code} has a schema`)
      }
    }
    // Path templates and parameters agree, or generated clients cannot build the URL.
    for (const [, name] of p.matchAll(/\{([^}]+)\}/g)) {
      t.ok(op.parameters?.some((param) => param.in === 'path' && param.name === name && param.required === true), `${id}: path parameter ${name}`)
    }
  }
})

t.test('every 4xx/5xx answer is application/problem+json with the Problem schema', async (t) => {
  for (const { path: p, method, op } of operations(doc)) {
    for (const [code, response] of Object.entries(op.responses ?? {})) {
      if (!/^[45]\d\d$/.test(code)) continue
      const id = `${method.toUpperCase()} ${p} ${code}`
      t.same(Object.keys(response.content ?? {}), ['application/problem+json'], `${id}: problem+json only`)
      t.equal(response.content?.['application/problem+json']?.schema?.$ref, PROBLEM_REF, `${id}: Problem schema`)
    }
  }
})

t.test('bearer routes: security requirement and RFC 6750 WWW-Authenticate on 400/401 (and 403 for admin routes)', async (t) => {
  const bearerOps = operations(doc).filter(({ path: p }) => isBearerPath(p))
  t.ok(bearerOps.length >= 10, `${bearerOps.length} bearer operations`)
  for (const { path: p, method, op } of bearerOps) {
    const id = `${method.toUpperCase()} ${p}`
    t.same(op.security, [{ bearerAuth: [] }, { dpopAuth: [] }], `${id}: security bearerAuth or dpopAuth (RFC 9449)`)
    for (const code of ['400', '401']) {
      t.ok(headerNames(op.responses?.[code]).includes('www-authenticate'), `${id} ${code}: WWW-Authenticate header`)
    }
    // Under /v1/users a 403 is the role check (insufficient_scope); under /v1/me it is a wrong password, no challenge.
    if (p.startsWith('/v1/users')) {
      t.ok(headerNames(op.responses?.['403']).includes('www-authenticate'), `${id} 403: WWW-Authenticate header`)
    }
  }
  // An explicit empty list: a missing `security` reads as "forgotten" to linters and as "inherit" to generators.
  for (const { path: p, method, op } of operations(doc).filter(({ path: p }) => !isBearerPath(p))) {
    t.same(op.security, [], `${method.toUpperCase()} ${p}: public (security: [])`)
  }
})

t.test('token responses reference AuthResult and carry Cache-Control', async (t) => {
  const tokenOps = [
    ['post', '/v1/auth/register', '201'], ['post', '/v1/auth/refresh', '200'], ['put', '/v1/me/password', '200'], ['post', '/v1/auth/mfa/verify', '200']
  ]
  for (const [method, p, code] of tokenOps) {
    const response = doc.paths[p]?.[method as 'post' | 'put']?.responses?.[code]
    t.equal(response?.content?.['application/json']?.schema?.$ref, '#/components/schemas/AuthResult', `${method.toUpperCase()} ${p} ${code}: AuthResult`)
    t.ok(headerNames(response).includes('cache-control'), `${method.toUpperCase()} ${p} ${code}: Cache-Control`)
  }
  // Login: tokens, or (two-factor sign-in on) the challenge; generated clients get the union of the two.
  const login = doc.paths['/v1/auth/login']?.post?.responses?.['200']
  const union = (login?.content?.['application/json']?.schema as { anyOf?: Array<{ $ref?: string }> } | undefined)?.anyOf
  t.same(union?.map((s) => s.$ref), ['#/components/schemas/AuthResult', '#/components/schemas/MfaChallenge'], 'POST /v1/auth/login 200: AuthResult or MfaChallenge')
  t.ok(headerNames(login).includes('cache-control'), 'POST /v1/auth/login 200: Cache-Control')
  // And no other success response hands out tokens without saying so.
  for (const { path: p, method, op } of operations(doc)) {
    for (const [code, response] of Object.entries(op.responses ?? {})) {
      if (response.content?.['application/json']?.schema?.$ref === '#/components/schemas/AuthResult') {
        t.ok(headerNames(response).includes('cache-control'), `${method.toUpperCase()} ${p} ${code}: Cache-Control`)
      }
    }
  }
})

t.test('rate-limited routes document Retry-After on 429; store-backed 503s document Retry-After', async (t) => {
  for (const { path: p, method, op } of operations(doc)) {
    for (const code of ['429', '503']) {
      const response = op.responses?.[code]
      if (response !== undefined) t.ok(headerNames(response).includes('retry-after'), `${method.toUpperCase()} ${p} ${code}: Retry-After`)
    }
  }
  for (const p of ['/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh']) {
    t.ok(doc.paths[p]?.post?.responses?.['429'] !== undefined, `POST ${p} documents 429`)
  }
})

t.test('every operation has an operationId: unique, camelCase, so generated SDKs get method names people would write', async (t) => {
  const ids = operations(doc).map(({ path: p, method, op }) => ({ where: `${method.toUpperCase()} ${p}`, id: op.operationId }))
  for (const { where, id } of ids) t.match(id, /^[a-z][a-zA-Z0-9]*$/, `${where}: operationId ${String(id)}`)
  const seen = new Map<string, string>()
  for (const { where, id } of ids) {
    if (id === undefined) continue
    t.notOk(seen.has(id), `${where}: operationId ${id} is not also on ${seen.get(id) ?? 'another operation'}`)
    seen.set(id, where)
  }
  // The names client code is written against: renaming one breaks every generated SDK.
  t.match(Object.fromEntries(ids.map(({ where, id }) => [where, id])), {
    'POST /v1/auth/register': 'register',
    'POST /v1/auth/login': 'login',
    'POST /v1/auth/refresh': 'refreshTokens',
    'POST /v1/auth/logout': 'logout',
    'POST /v1/auth/logout-all': 'logoutAll',
    'GET /v1/me': 'getMe',
    'PATCH /v1/me': 'updateMe',
    'PUT /v1/me/password': 'changePassword',
    'DELETE /v1/me': 'deleteMe',
    'GET /v1/users': 'listUsers',
    'GET /v1/users/{id}': 'getUser',
    'PATCH /v1/users/{id}': 'updateUser',
    'DELETE /v1/users/{id}': 'deleteUser',
    'GET /.well-known/jwks.json': 'getJwks'
  })
})

t.test('problem examples: one per code, each a body of its own status', async (t) => {
  const problem = doc.components.schemas.Problem as { properties: { code: { enum: string[] } } }
  const codes = new Set(problem.properties.code.enum)
  for (const { path: p, method, op } of operations(doc)) {
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      if (!/^[45]\d\d$/.test(status)) continue
      const where = `${method.toUpperCase()} ${p} ${status}`
      const examples = Object.entries(response.content?.['application/problem+json']?.examples ?? {})
      t.ok(examples.length > 0, `${where}: has examples`)
      for (const [name, example] of examples) {
        t.equal(example.value?.code, name, `${where}: example ${name} is named by its code`)
        t.ok(codes.has(name), `${where}: ${name} is in the Problem code enum`)
        t.equal(example.value?.status, Number(status), `${where}: example ${name} has status ${status}`)
        t.match(example.value, { type: /^urn:tessera:problem:/, title: String, detail: String }, `${where}: example ${name} is a whole problem`)
      }
    }
  }
})

t.test('whoami\'s role is the same schema as User.role', async (t) => {
  const claims = doc.paths['/v1/auth/whoami']?.get?.responses?.['200']?.content?.['application/json']?.schema as { properties: { role: unknown } }
  const user = doc.components.schemas.User as { properties: { role: unknown } }
  t.same(claims.properties.role, user.properties.role)
  t.match(JSON.stringify(user.properties.role), /"admin"/)
})
