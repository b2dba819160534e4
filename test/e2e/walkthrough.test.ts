// End to end: the real server process, first-start key generation, the README's curl walkthrough, SIGTERM.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { REPO_ROOT, startServer, waitForExit, type ServerProcess } from './server-process'

const run = promisify(execFile)

/** The README's default address; the walkthrough is rewritten to the port the test server got. */
const README_BASE = 'http://127.0.0.1:3000'

function serverEnv (dir: string): Record<string, string> {
  return {
    DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    JWT_ALG: 'EdDSA',
    // Cheap argon2 so the test is fast; the production parameters are tested in test/lib.
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    LOG_LEVEL: 'info',
    WEB_CONCURRENCY: '1'
  }
}

/** The ```sh block that follows `<!-- walkthrough -->` in README.md. */
function readmeWalkthrough (): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const match = /<!-- walkthrough -->\s*```sh\n([\s\S]*?)\n```/.exec(readme)
  if (match === null) throw new Error('README.md has no ```sh block after <!-- walkthrough -->')
  return match[1]
}

async function bash (script: string): Promise<string> {
  try {
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO_ROOT, timeout: 60_000 })
    return stdout
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`the walkthrough failed: ${e.message}\nstdout:\n${e.stdout ?? ''}\nstderr:\n${e.stderr ?? ''}`, { cause: err })
  }
}

function assertKeyGenerated (t: Test, server: ServerProcess, keysDir: string): void {
  const generated = server.logs.find((l) => l.msg === 'no signing key found: generated one')
  t.ok(generated, 'the first start logs that it generated a signing key')
  t.equal(generated?.alg, 'EdDSA')
  const pems = readdirSync(keysDir).filter((name) => name.endsWith('.pem'))
  t.equal(pems.length, 1, 'one private key file')
  t.equal(pems[0], `${String(generated?.kid)}.pem`, 'the key file is named after the logged kid')
  for (const pem of pems) {
    t.equal((statSync(path.join(keysDir, pem)).mode & 0o777).toString(8), '600', `${pem} is readable by its owner only`)
  }
}

/** The first log line matching `match`, waiting up to 5 s for it (the server writes mail after its answer). */
async function waitForLog (server: ServerProcess, match: (line: ServerProcess['logs'][number]) => boolean): Promise<ServerProcess['logs'][number] | undefined> {
  const deadline = Date.now() + 5000
  for (;;) {
    const line = server.logs.find(match)
    if (line !== undefined || Date.now() > deadline) return line
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('first start, then the README walkthrough against the running server', async (t) => {
  const dir = t.testdir()
  const server = await startServer(t, serverEnv(dir))
  assertKeyGenerated(t, server, path.join(dir, 'keys'))

  const script = readmeWalkthrough()
  t.match(script, README_BASE, 'the walkthrough talks to the default address')
  t.notMatch(script, /\bjq\b/, 'the walkthrough needs nothing but curl and sed')

  const out = await bash(script.replaceAll(README_BASE, server.baseUrl))
  t.comment(out.trimEnd())

  t.match(out, /^register: HTTP 201$/m, 'register answers 201')
  const login = /^login: (\S+), user id (\S+), access token (\d+) bytes$/m.exec(out)
  t.ok(login, 'login prints the user')
  const [, email, id, accessBytes] = login ?? []
  t.equal(email, 'alice@example.com', 'the registered email')
  t.match(id, /^[0-9a-z]{26}$/, 'user id: 26 base32 characters')
  t.ok(Number(accessBytes) < 400, `the access token, with its sid, stays under 400 bytes (${accessBytes})`)

  const whoami = /^whoami: (\{.*\})$/m.exec(out)
  t.ok(whoami, 'whoami prints the claims')
  const claims = JSON.parse(whoami?.[1] ?? '{}') as Record<string, unknown>
  t.equal(claims.sub, id, 'whoami names the logged-in user')
  t.equal(claims.role, 'user')

  t.match(out, /^refresh: ok/m, 'refresh returns new tokens')
  t.match(out, /^logout-all: HTTP 204$/m, 'logout-all answers 204')
  t.match(out, /^refresh after logout-all: \{.*"code":"ERR_REFRESH_TOKEN_REVOKED".*\} HTTP 401$/m,
    'the refresh token from before logout-all is refused with 401')
  t.match(out, /^whoami after logout-all: HTTP 200$/m, 'the access token lives on until it expires (the stateless trade-off)')
  t.match(out, /^forgot-password: HTTP 202$/m, 'forgot-password answers 202')
  // No SMTP_URL: the reset mail is written to the log at info, link included (the documented development default).
  const mailed = await waitForLog(server, (l) => (l.mail as { subject?: string } | undefined)?.subject === 'Reset your password')
  t.equal(mailed?.level, 30, 'the reset mail is logged at info')
  t.match((mailed?.mail as { link?: string } | undefined)?.link, /^http:\/\/127\.0\.0\.1:3000\/reset-password#token=[\w-]+\.[\w-]+\.[\w-]+$/,
    'with its link, built on PUBLIC_URL')
  t.equal(server.stderr(), '', 'nothing on stderr')
})

t.test('SIGTERM drains and exits 0', async (t) => {
  const dir = t.testdir()
  const server = await startServer(t, serverEnv(dir))
  const res = await fetch(`${server.baseUrl}/health/ready`)
  t.equal(res.status, 200, 'ready before the signal')

  t.ok(server.child.kill('SIGTERM'), 'signal sent')
  const { code, signal } = await waitForExit(server, 5000)
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null, 'not killed by the signal: the handler ran')
  t.ok(server.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down') && l.signal === 'SIGTERM'), 'logs the shutdown')
})
