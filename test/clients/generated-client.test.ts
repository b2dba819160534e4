// examples/typescript-client for real: types generated from the committed openapi.yaml into a temporary directory,
// the example client and a client program type-checked against them, then that program run against real Tessera
// processes: the whole account and admin flow, and the refresh-and-retry wrapper with 2-second access tokens.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript'
import t from 'tap'
import ts from 'typescript'
import { parse } from 'yaml'
import { requireService } from '../support/services'
import { oathtool } from '../support/totp'
import { createAdmin, PASSWORD, REPO_ROOT, startTessera } from './client-helper'
import type { Checks, Exchange, FlowOptions } from './typescript-client/flow-types'

const OPENAPI = path.join(REPO_ROOT, 'openapi.yaml')
const EXAMPLE_DIR = path.join(REPO_ROOT, 'examples', 'typescript-client')
const PROGRAM_DIR = path.join(__dirname, 'typescript-client')
const PROGRAM_FILES = [path.join(EXAMPLE_DIR, 'client.ts'), path.join(PROGRAM_DIR, 'flow.ts'), path.join(PROGRAM_DIR, 'type-checks.ts')]

/** flow.ts, loaded at run time: a static import would make the root tsconfig need the generated types. */
interface FlowModule {
  accountFlow: (t: Checks, options: FlowOptions) => Promise<void>
  mfaFlow: (t: Checks, options: FlowOptions) => Promise<void>
  refreshSession: (t: Checks, options: FlowOptions) => Promise<RefreshSession>
  concurrentExpiry: RefreshStep
  restartWithStoredToken: RefreshStep
  sessionEnds: RefreshStep
  dpopFlow: (t: Checks, options: FlowOptions) => Promise<void>
}
/** flow.ts's RefreshSession, opaque here. */
interface RefreshSession { user: { id: string } }
type RefreshStep = (t: Checks, options: FlowOptions, session: RefreshSession) => Promise<void>

/** openapi-typescript's Node API, as `npx openapi-typescript openapi.yaml -o schema.d.ts` would write it. */
async function generateTypes (dir: string, document: URL | OpenAPI3): Promise<string> {
  const file = path.join(dir, 'schema.d.ts')
  writeFileSync(file, astToString(await openapiTS(document)))
  return file
}

/** Declarations under node_modules (lib, @types/node, openapi-fetch) are parsed once for both type-checks. */
const parsedLibraries = new Map<string, ts.SourceFile>()
function cachingHost (options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options)
  const read = host.getSourceFile.bind(host)
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (!fileName.includes('/node_modules/')) return read(fileName, languageVersion, onError, shouldCreate)
    let file = parsedLibraries.get(fileName)
    if (file === undefined) {
      file = read(fileName, languageVersion, onError, shouldCreate)
      if (file !== undefined) parsedLibraries.set(fileName, file)
    }
    return file
  }
  return host
}

/**
 * `tsc --noEmit` with the project's compiler options over the generated types, the example client and the
 * program. rootDirs merges the temporary directory with examples/typescript-client, so the example's
 * `import … from './schema'` finds the generated file without anything generated in the tree.
 */
function typeCheck (dir: string): string[] {
  const tsconfig = path.join(dir, 'tsconfig.json')
  writeFileSync(tsconfig, JSON.stringify({
    extends: path.join(REPO_ROOT, 'tsconfig.json'),
    compilerOptions: { rootDirs: [EXAMPLE_DIR, dir] },
    include: [],
    files: [path.join(dir, 'schema.d.ts'), ...PROGRAM_FILES]
  }))
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfig, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) }
  })
  if (parsed === undefined) throw new Error(`cannot read ${tsconfig}`)
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, host: cachingHost(parsed.options) })
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => REPO_ROOT, getNewLine: () => '\n' }
  return ts.getPreEmitDiagnostics(program).map((d) => ts.formatDiagnostic(d, host).trim())
}

// Started now, so that the processes boot while the type-checks run; the last test awaits them.
const servers = Promise.all([
  // No reuse grace: the account flow shows a refresh token used twice ending its session without waiting.
  startTessera(t, { REFRESH_REUSE_GRACE: '0' }),
  // The account flow must not meet a refresh by surprise; the wrapper test needs them often.
  startTessera(t, { ACCESS_TOKEN_TTL: '2s' })
])
servers.catch(() => {}) // reported where it is awaited

/** The lines of the ```text block after `<!-- mobile-requests -->` in docs/clients.md: `METHOD /path … → STATUS …`. */
function documentedMobileRequests (): Array<{ method: string, path: string, status: number }> {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'clients.md'), 'utf8')
  const block = /<!-- mobile-requests -->\s*```text\n([\s\S]*?)\n```/.exec(doc)
  if (block === null) throw new Error('docs/clients.md has no ```text block after <!-- mobile-requests -->')
  return block[1].split('\n').map((line) => {
    const match = /^(GET|POST|PUT|PATCH|DELETE)\s+(\/\S*)\s.*→ (\d{3})\b/.exec(line)
    if (match === null) throw new Error(`docs/clients.md, mobile requests: cannot read "${line}"`)
    return { method: match[1], path: match[2], status: Number(match[3]) }
  })
}

t.test('types generated from openapi.yaml type-check the example client and the program that uses it', async (t) => {
  const dir = t.testdir()
  const schema = readFileSync(await generateTypes(dir, pathToFileURL(OPENAPI)), 'utf8')
  t.match(schema, /export interface paths \{/, 'openapi-typescript wrote the paths')
  t.match(schema, /"\/v1\/users\/\{id\}": \{/, 'including the admin routes')
  t.match(schema, /code: "ERR_ACCOUNT_DISABLED" \| "ERR_AUTH_MALFORMED" \| /, 'Problem.code is a union of the stable codes')

  const diagnostics = typeCheck(dir)
  t.same(diagnostics, [], 'no type error, and every @ts-expect-error of type-checks.ts met its error')
})

t.test('the type-check is not vacuous: with `code` a plain string, the typo check in type-checks.ts goes unnoticed', async (t) => {
  const dir = t.testdir()
  const document = parse(readFileSync(OPENAPI, 'utf8')) as { components: { schemas: { Problem: { properties: { code: Record<string, unknown> } } } } }
  delete document.components.schemas.Problem.properties.code.enum
  await generateTypes(dir, document as unknown as OpenAPI3)
  const diagnostics = typeCheck(dir)
  t.equal(diagnostics.length, 2, 'two errors, both where the code union was relied on')
  t.ok(diagnostics.every((d) => d.includes('type-checks.ts')), 'both in type-checks.ts')
  t.ok(diagnostics.some((d) => d.includes('TS2578')), 'the typo comparison compiles: its @ts-expect-error is unused')
})

t.test('the program against real Tessera processes', async (t) => {
  // Compiled to CommonJS by tap's loader: the exports arrive as the namespace's default.
  const loaded = await import(pathToFileURL(path.join(PROGRAM_DIR, 'flow.ts')).href) as FlowModule & { default?: FlowModule }
  const flow = loaded.default ?? loaded
  const [tessera, shortLived] = await servers
  const adminEmail = 'root@example.com'
  await createAdmin(tessera, adminEmail)

  const accountLog: Exchange[] = []
  await t.test('register, login, profile, password change, refresh, admin routes, logout-all, typed problems', (t) =>
    flow.accountFlow(t, { baseUrl: tessera.baseUrl, email: 'ada@example.com', adminEmail, adminPassword: PASSWORD, log: accountLog }))

  await t.test('two-factor sign-in: login answers the MfaChallenge side of the union, verifyMfa the AuthResult', async (t) => {
    if (!await requireService(t, 'oathtool')) return
    const totp = (secret: string, steps = 0): string => oathtool(secret, Date.now() + steps * 30_000)
    await flow.mfaFlow(t, { baseUrl: tessera.baseUrl, email: 'mfa@example.com', adminEmail, adminPassword: PASSWORD, log: accountLog, totp })
  })

  const refreshLog: Exchange[] = []
  await t.test('refresh and retry with ACCESS_TOKEN_TTL=2s', async (t) => {
    const options = { baseUrl: shortLived.baseUrl, email: 'grace@example.com', adminEmail, adminPassword: PASSWORD, log: refreshLog }
    const session = await flow.refreshSession(t, options)
    await t.test('three concurrent calls with an expired token: one refresh, three retries, three successes', (t) =>
      flow.concurrentExpiry(t, options, session))
    await t.test('an app restarted with only the stored refresh token refreshes first, without collecting a 401', (t) =>
      flow.restartWithStoredToken(t, options, session))
    await t.test('after logout-all on another device: the 401s share one failed refresh, the session ends once', (t) =>
      flow.sessionEnds(t, options, session))
  })

  await t.test('DPoP through the fetch middleware: bound tokens work with the key, and copies without it are refused', (t) =>
    flow.dpopFlow(t, { baseUrl: tessera.baseUrl, email: 'dee@example.com', adminEmail, adminPassword: PASSWORD, log: [] }))

  await t.test('the mobile request list of docs/clients.md: each request is one this program sent, with that status', async (t) => {
    const listed = documentedMobileRequests()
    t.ok(listed.length >= 8, `docs/clients.md lists the flow (${listed.length} requests)`)
    const sent = [...accountLog, ...refreshLog]
    for (const { method, path: p, status } of listed) {
      t.ok(sent.some((e) => e.method === method && e.path === p && e.status === status), `${method} ${p} → ${status}`)
    }
  })

  t.ok(accountLog.every((e) => e.status < 500) && refreshLog.every((e) => e.status < 500), 'no 5xx on the way')
  t.equal(tessera.stderr() + shortLived.stderr(), '', 'nothing on the servers\' stderr')
})
