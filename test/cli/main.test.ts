// The command line tool in-process against a temporary SQLite file, plus one real process proving the stdin path end to end.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { runCli, type CliIo } from '../../src/cli/main'
import { loadConfig, type Config } from '../../src/config'
import { createRedisBus, revocationChannel, type RevocationEvent } from '../../src/revocation/revocation-bus'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { assertProblem, bearer, build, PASSWORD, START, TEST_ARGON2, type AuthResultBody, type TestContext } from '../support/app'
import { REDIS_URL, requireService } from '../support/services'
import { oathtool } from '../support/totp'
import { until } from '../support/until'
import { ManualClock } from '../../src/clock'
import { compiled, REPO_ROOT } from '../e2e/server-process'

interface Run { code: number, stdout: string, stderr: string }

function dbFile (t: Test): string {
  return path.join(t.testdir(), 'data', 'tessera.db')
}

function cliConfig (file: string, env: Record<string, string> = {}): Config {
  return loadConfig({ DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'silent', RATE_LIMIT: 'off', ...TEST_ARGON2, ...env })
}

async function cli (config: Config, argv: string[], input = ''): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    config,
    stdin: Readable.from([Buffer.from(input, 'utf8')]),
    stdout: { write: (s: string) => { stdout += s } },
    stderr: { write: (s: string) => { stderr += s } }
  }
  const code = await runCli(argv, io)
  return { code, stdout, stderr }
}

/** The real app over the same database file the CLI wrote. */
async function appOver (t: Test, file: string, env: Record<string, string> = {}): Promise<TestContext> {
  const clock = new ManualClock(START)
  return build(t, { env, clock, store: createSqliteStore({ path: file, clock }) })
}

const login = (ctx: TestContext, email: string, password = PASSWORD) =>
  ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } })

const createArgs = (email: string, ...extra: string[]) => ['users', 'create', '--email', email, ...extra, '--password-stdin']

t.test('users create --role admin via stdin: listed, and it can log in with role admin', async (t) => {
  const file = dbFile(t)
  const config = cliConfig(file)
  const created = await cli(config, createArgs('Root@Example.COM', '--role', 'admin', '--name', 'Root'), PASSWORD + '\n')
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /created admin root@example\.com \(id \w+\)/)
  t.notOk(created.stdout.includes(PASSWORD) || created.stderr.includes(PASSWORD), 'the password is never printed')
  t.notOk(created.stdout.includes('$argon2'), 'nor its hash')

  const table = await cli(config, ['users', 'list'])
  t.equal(table.code, 0, table.stderr)
  const lines = table.stdout.trimEnd().split('\n')
  t.match(lines[0], /^ID\s+EMAIL\s+ROLE\s+DISABLED\s+CREATED$/)
  t.match(lines[1], /root@example\.com\s+admin\s+false\s+\d{4}-\d\d-\d\dT/)

  const json = await cli(config, ['users', 'list', '--json'])
  t.equal(json.code, 0, json.stderr)
  const rows = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(rows.length, 1)
  t.same(Object.keys(rows[0]).sort(), ['createdAt', 'disabled', 'email', 'id', 'role'])
  t.match(rows[0], { email: 'root@example.com', role: 'admin', disabled: false })

  const ctx = await appOver(t, file)
  const res = await login(ctx, 'root@example.com')
  t.equal(res.statusCode, 200, res.body)
  const body = res.json<AuthResultBody>()
  t.equal(body.user.role, 'admin')
  t.equal(body.user.name, 'Root')
  const claims = JSON.parse(Buffer.from(body.accessToken.split('.')[1], 'base64url').toString('utf8')) as { role: string, sub: string }
  t.equal(claims.role, 'admin', 'the access token carries role admin')
  t.equal(claims.sub, rows[0].id)
  const admin = await ctx.app.inject({ url: '/v1/users', query: { limit: '10' }, headers: bearer(body.accessToken) })
  t.equal(admin.statusCode, 200, 'and it passes the admin routes')
})

t.test('users create: trims exactly one trailing newline; the role defaults to user', async (t) => {
  const file = dbFile(t)
  const config = cliConfig(file)
  t.equal((await cli(config, createArgs('crlf@example.com'), PASSWORD + '\r\n')).code, 0)
  t.equal((await cli(config, createArgs('bare@example.com'), PASSWORD)).code, 0)
  // Two newlines: the second is part of the password, which then holds a control character.
  const twice = await cli(config, createArgs('twice@example.com'), PASSWORD + '\n\n')
  t.equal(twice.code, 1)
  t.match(twice.stderr, /ERR_PASSWORD_MALFORMED/)
  const ctx = await appOver(t, file)
  for (const email of ['crlf@example.com', 'bare@example.com']) {
    const res = await login(ctx, email)
    t.equal(res.statusCode, 200, `${email} logs in`)
    t.equal(res.json<AuthResultBody>().user.role, 'user')
  }
})

t.test('users create refuses a password given as an argument, without echoing it', async (t) => {
  const config = cliConfig(dbFile(t))
  for (const argv of [
    ['users', 'create', '--email', 'a@example.com', '--password', 'hunter2-hunter2-hunter2'],
    ['users', 'create', '--email', 'a@example.com', '--password=hunter2-hunter2-hunter2', '--password-stdin'],
    ['users', 'create', '--email', 'a@example.com', '--pass=hunter2-hunter2-hunter2']
  ]) {
    const run = await cli(config, argv, PASSWORD)
    t.equal(run.code, 2, argv.join(' '))
    t.notOk(run.stderr.includes('hunter2'), 'the value is not echoed')
    t.match(run.stderr, /usage: npm run cli/)
  }
  const refused = await cli(config, ['users', 'create', '--email', 'a@example.com', '--password', 'x'])
  t.match(refused.stderr, /--password is not accepted.*--password-stdin/)
  const noFlag = await cli(config, ['users', 'create', '--email', 'a@example.com'], PASSWORD)
  t.equal(noFlag.code, 2)
  t.match(noFlag.stderr, /--password-stdin is required/)
})

t.test('users create failures exit 1 with the stable code', async (t) => {
  const config = cliConfig(dbFile(t))
  const weak = await cli(config, createArgs('weak@example.com'), 'short\n')
  t.equal(weak.code, 1)
  t.match(weak.stderr, /ERR_PASSWORD_TOO_SHORT/)
  t.notOk(weak.stderr.includes('short\n'), 'the password is not echoed')

  const common = await cli(config, createArgs('common@example.com'), '1qaz2wsx3edc4rfv\n')
  t.equal(common.code, 1)
  t.match(common.stderr, /ERR_PASSWORD_COMMON/)

  t.equal((await cli(config, createArgs('dup@example.com'), PASSWORD)).code, 0)
  const dup = await cli(config, createArgs('DUP@example.com'), PASSWORD)
  t.equal(dup.code, 1)
  t.match(dup.stderr, /ERR_EMAIL_TAKEN/)

  const badEmail = await cli(config, createArgs('not-an-email'), PASSWORD)
  t.equal(badEmail.code, 1)
  t.match(badEmail.stderr, /ERR_VALIDATION/)

  const badRole = await cli(config, createArgs('r@example.com', '--role', 'root'), PASSWORD)
  t.equal(badRole.code, 2)
  t.match(badRole.stderr, /--role must be user or admin/)
})

t.test('finding 3: users create refuses an address list, comment or quoted local part', async (t) => {
  const file = dbFile(t)
  const config = cliConfig(file)
  for (const email of ['victim@example.com,x1.org', 'victim@example.com;x3.org', '(a)victim@example.com', '"victim"@example.com']) {
    const run = await cli(config, createArgs(email), PASSWORD)
    t.equal(run.code, 1, email)
    t.match(run.stderr, /ERR_VALIDATION/)
  }
  const listed = await cli(config, ['users', 'list', '--json'])
  t.equal(listed.code, 0, listed.stderr)
  t.equal(listed.stdout.trim(), '', 'no account was created')
})

t.test('finding 10: users create refuses control characters and bidi overrides in --name', async (t) => {
  const config = cliConfig(dbFile(t))
  for (const name of ['Ada\u0000', 'Ada\u001b[31m', 'Ada\nAdmin', 'Ada\u202eevil', 'Ada\u2066x\u2069']) {
    const run = await cli(config, createArgs('ada@example.com', '--name', name), PASSWORD)
    t.equal(run.code, 1, JSON.stringify(name))
    t.match(run.stderr, /ERR_VALIDATION/)
  }
  t.equal((await cli(config, createArgs('ada@example.com', '--name', 'Ada Lovelace 👩‍💻'), PASSWORD)).code, 0, 'an ordinary name')
})

t.test('users reset-mfa: an administrator locked out of two-factor sign-in gets back in with the password', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const file = dbFile(t)
  const config = cliConfig(file)
  t.equal((await cli(config, createArgs('root@example.com', '--role', 'admin'), PASSWORD)).code, 0)
  const ctx = await appOver(t, file)
  const { accessToken, refreshToken } = (await login(ctx, 'root@example.com')).json<AuthResultBody>()
  const { secret } = (await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: bearer(accessToken), payload: { password: PASSWORD } })).json<{ secret: string }>()
  const confirm = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp/confirm', headers: bearer(accessToken), payload: { code: oathtool(secret, ctx.clock.now()) } })
  t.equal(confirm.statusCode, 200)
  t.equal((await login(ctx, 'root@example.com')).json<{ mfaRequired?: boolean }>().mfaRequired, true, 'the phone is needed now')

  const reset = await cli(config, ['users', 'reset-mfa', '--email', 'Root@example.com'])
  t.equal(reset.code, 0, reset.stderr)
  t.match(reset.stdout, /^two-factor sign-in is off for root@example\.com \(id \w+\): every session has ended\n$/)
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } }), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.ok('accessToken' in (await login(ctx, 'root@example.com')).json<object>(), 'the password alone signs in again')

  const again = await cli(config, ['users', 'reset-mfa', '--email', 'root@example.com'])
  t.equal(again.code, 1)
  t.match(again.stderr, /ERR_MFA_NOT_ENABLED/)
  t.equal((await cli(config, ['users', 'reset-mfa', '--email', 'nobody@example.com'])).code, 1)
  t.equal((await cli(config, ['users', 'reset-mfa'])).code, 2)
})

t.test('users disable revokes sessions and blocks login; enable restores it', async (t) => {
  const file = dbFile(t)
  const config = cliConfig(file)
  t.equal((await cli(config, createArgs('bob@example.com'), PASSWORD)).code, 0)
  const ctx = await appOver(t, file)
  const before = await login(ctx, 'bob@example.com')
  t.equal(before.statusCode, 200)
  const { refreshToken } = before.json<AuthResultBody>()
  const versionBefore = (await ctx.store.findByEmail('bob@example.com'))!.tokenVersion

  const disabled = await cli(config, ['users', 'disable', '--email', 'Bob@Example.com'])
  t.equal(disabled.code, 0, disabled.stderr)
  t.match(disabled.stdout, /disabled bob@example\.com/)
  t.equal((await ctx.store.findByEmail('bob@example.com'))!.tokenVersion, versionBefore + 1, 'token version bumped')
  assertProblem(t, await login(ctx, 'bob@example.com'), 403, 'ERR_ACCOUNT_DISABLED')
  const refreshed = await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
  t.equal(refreshed.statusCode, 401, 'the old refresh token is dead')

  const again = await cli(config, ['users', 'disable', '--email', 'bob@example.com'])
  t.equal(again.code, 0)
  t.match(again.stdout, /already disabled/)
  t.equal((await ctx.store.findByEmail('bob@example.com'))!.tokenVersion, versionBefore + 1, 'no second bump')

  const listed = await cli(config, ['users', 'list', '--json'])
  t.match(JSON.parse(listed.stdout.trim()), { email: 'bob@example.com', disabled: true })

  const enabled = await cli(config, ['users', 'enable', '--email', 'bob@example.com'])
  t.equal(enabled.code, 0, enabled.stderr)
  t.equal((await login(ctx, 'bob@example.com')).statusCode, 200)

  const unknown = await cli(config, ['users', 'disable', '--email', 'nobody@example.com'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /ERR_USER_NOT_FOUND/)
  const missing = await cli(config, ['users', 'disable'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--email is required/)
})

t.test('hybrid mode: users disable reaches a running instance at once over Redis, as PATCH /v1/users does', async (t) => {
  if (!await requireService(t, 'redis')) return
  const file = dbFile(t)
  // Its own issuer, hence its own channel: test files running at the same time do not hear each other.
  const env = { REVOCATION_MODE: 'hybrid', REVOCATION_CACHE_TTL: '1h', REDIS_URL, JWT_ISSUER: `tessera-${randomBytes(4).toString('hex')}` }
  const config = cliConfig(file, env)
  t.equal((await cli(config, createArgs('bob@example.com'), PASSWORD)).code, 0)
  const ctx = await appOver(t, file, env)
  const heard: RevocationEvent[] = []
  const bus = createRedisBus(REDIS_URL, revocationChannel(config.jwt.issuer), { warn: () => {}, info: () => {} })
  t.teardown(() => bus.close())
  await bus.subscribe((event) => heard.push(event))

  const { accessToken, user } = (await login(ctx, 'bob@example.com')).json<AuthResultBody>()
  const whoami = () => ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(accessToken) })
  t.equal((await whoami()).statusCode, 200, 'the instance caches bob\'s state for an hour (its clock is frozen)')

  const disabled = await cli(config, ['users', 'disable', '--email', 'bob@example.com'])
  t.equal(disabled.code, 0, disabled.stderr)
  // The command waited for its publish before exiting, so a marker published now arrives after it.
  bus.publish({ kind: 'session', sid: 'marker' })
  t.ok(await until(() => heard.some((e) => e.kind === 'session')), 'the marker came through')
  t.strictSame(heard[0], { kind: 'user', userId: user.id, version: 1 }, 'the command published the version bump')
  t.ok(await until(async () => (await whoami()).statusCode === 401), 'the running instance refuses bob\'s access token')
  assertProblem(t, await whoami(), 401, 'ERR_TOKEN_REVOKED')
})

t.test('finding 1: users disable refuses the last enabled admin (ERR_LAST_ADMIN), as the API does', async (t) => {
  const file = dbFile(t)
  const config = cliConfig(file)
  t.equal((await cli(config, createArgs('root@example.com', '--role', 'admin'), PASSWORD)).code, 0)
  const refused = await cli(config, ['users', 'disable', '--email', 'root@example.com'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^users disable: .*no active administrator.*\(ERR_LAST_ADMIN\)\n$/)
  t.equal(refused.stdout, '')
  const ctx = await appOver(t, file)
  t.match(await ctx.store.findByEmail('root@example.com'), { disabled: false, tokenVersion: 0 }, 'nothing changed')
  t.equal((await login(ctx, 'root@example.com')).statusCode, 200, 'the admin can still log in')

  // The way out the message points to: another administrator first.
  t.equal((await cli(config, createArgs('second@example.com', '--role', 'admin'), PASSWORD)).code, 0)
  const disabled = await cli(config, ['users', 'disable', '--email', 'root@example.com'])
  t.equal(disabled.code, 0, disabled.stderr)
  t.match(await ctx.store.findByEmail('root@example.com'), { disabled: true })
  const last = await cli(config, ['users', 'disable', '--email', 'second@example.com'])
  t.equal(last.code, 1)
  t.match(last.stderr, /ERR_LAST_ADMIN/)
})

t.test('users list --limit pages through the store', async (t) => {
  const config = cliConfig(dbFile(t))
  for (const n of [1, 2, 3]) t.equal((await cli(config, createArgs(`u${n}@example.com`), PASSWORD)).code, 0)
  const two = await cli(config, ['users', 'list', '--json', '--limit', '2'])
  t.same(two.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { email: string }).email), ['u1@example.com', 'u2@example.com'])
  const all = await cli(config, ['users', 'list', '--json'])
  t.equal(all.stdout.trim().split('\n').length, 3)
  for (const bad of ['0', '-1', 'ten', '1.5']) {
    t.equal((await cli(config, ['users', 'list', '--limit', bad])).code, 2, `--limit ${bad}`)
  }
})

t.test('migrate is idempotent and keeps the data', async (t) => {
  const config = cliConfig(dbFile(t))
  const first = await cli(config, ['migrate'])
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /up to date/)
  t.equal((await cli(config, createArgs('keep@example.com'), PASSWORD)).code, 0)
  const second = await cli(config, ['migrate'])
  t.equal(second.code, 0, second.stderr)
  const listed = await cli(config, ['users', 'list', '--json'])
  t.match(listed.stdout, /keep@example\.com/)
  t.equal((await cli(config, ['migrate', 'extra'])).code, 2, 'no positional arguments')
})

t.test('usage errors exit 2 with the usage text', async (t) => {
  const config = cliConfig(dbFile(t))
  for (const argv of [[], ['frobnicate'], ['users'], ['users', 'frobnicate'], ['users', 'list', '--bogus']]) {
    const run = await cli(config, argv)
    t.equal(run.code, 2, `[${argv.join(' ')}] exits 2`)
    t.match(run.stderr, /usage: npm run cli -- <command>/)
    t.equal(run.stdout, '')
  }
  const help = await cli(config, ['help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /users create --email E/)
})

t.test('the real process reads the password from a pipe', async (t) => {
  const file = dbFile(t)
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'silent', ...TEST_ARGON2
  }
  // The compiled CLI, as `npm run cli` runs it: without tap's loaders.
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, [compiled('cli/main.js'), ...createArgs('piped@example.com', '--role', 'admin')], {
    cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(PASSWORD + '\n')
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  t.equal(code, 0, stderr)
  t.match(stdout, /created admin piped@example\.com/)
  t.notOk(stdout.includes(PASSWORD) || stderr.includes(PASSWORD))

  const ctx = await appOver(t, file)
  const res = await login(ctx, 'piped@example.com')
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json<AuthResultBody>().user.role, 'admin')
})
