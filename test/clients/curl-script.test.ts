// examples/curl.sh, run by /bin/sh against a real Tessera process: every line it prints is checked, in order.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { REPO_ROOT, startTessera } from './client-helper'

const run = promisify(execFile)
const SCRIPT = path.join(REPO_ROOT, 'examples', 'curl.sh')
const SCRIPT_TIMEOUT_MS = 60_000
/** The access token lives 2 to 3 s (whole seconds, CLOCK_TOLERANCE=0): after 4 s it has expired. */
const TTL = '3s'
const EXPIRY_WAIT = '4'

const ID = '[0-9a-z]{26}'
const AUTH_REQUIRED = /^ {2}\{"type":"urn:tessera:problem:auth-required",.*"status":401,.*"code":"ERR_AUTH_REQUIRED","requestId":"[\w.:-]+"\}$/
const TOKEN_INVALID = /^ {2}\{"type":"urn:tessera:problem:token-invalid",.*"status":401,.*"code":"ERR_TOKEN_INVALID","requestId":"[\w.:-]+"\}$/
const TOKEN_EXPIRED = /^ {2}\{"type":"urn:tessera:problem:token-expired",.*"status":401,.*"code":"ERR_TOKEN_EXPIRED","requestId":"[\w.:-]+"\}$/
const REVOKED = /^ {2}\{"type":"urn:tessera:problem:refresh-token-revoked",.*"status":401,.*"code":"ERR_REFRESH_TOKEN_REVOKED","requestId":"[\w.:-]+"\}$/
const UNAUTHORIZED = /^ {2}HTTP\/1\.1 401 Unauthorized$/

type Expected = [RegExp, string]

/** The lines of one run, as pairs of pattern and what the line proves. */
function expectedLines (email: string, expiry: boolean): Expected[] {
  const escaped = email.replaceAll('.', '\\.')
  return [
    [/^register: HTTP 201$/, 'register answers 201'],
    [new RegExp(`^login: ${escaped}, user id ${ID}, access token expires in 3 s$`), 'login prints the user and the access-token lifetime'],
    [new RegExp(`^whoami: \\{"sub":"${ID}","role":"user","iat":\\d+,"exp":\\d+,"jti":"[\\w-]{16}"\\}$`), 'whoami prints the claims'],
    [/^refresh: ok, new access and refresh tokens$/, 'refresh returns new tokens'],
    [/^devices: Second laptop, curl, curl; this one: curl$/, 'both sign-ins and the registration are listed, newest first, the caller marked'],
    [/^logout second device: HTTP 204$/, 'logout of one device answers 204 in the default mode'],
    [/^second device refresh:$/, 'second device refresh: heading'],
    [UNAUTHORIZED, 'second device refresh: 401'],
    [REVOKED, 'the logged-out device cannot refresh: ERR_REFRESH_TOKEN_REVOKED'],
    [/^devices left: 2$/, 'the other sessions remain'],
    [/^no token:$/, 'no token: heading'],
    [UNAUTHORIZED, 'no token: 401'],
    [/^ {2}www-authenticate: Bearer realm="tessera"$/, 'no token: a bare challenge, without an error code'],
    [AUTH_REQUIRED, 'no token: ERR_AUTH_REQUIRED'],
    [/^forged token:$/, 'forged token: heading'],
    [UNAUTHORIZED, 'forged token: 401'],
    [/^ {2}www-authenticate: Bearer realm="tessera", error="invalid_token", error_description="[^"]+"$/, 'forged token: error="invalid_token"'],
    [TOKEN_INVALID, 'forged token: ERR_TOKEN_INVALID'],
    ...(expiry
      ? [
          [/^expired token \(after 4 s\):$/, 'expired token: heading'],
          [UNAUTHORIZED, 'expired token: 401'],
          [/^ {2}www-authenticate: Bearer realm="tessera", error="invalid_token", error_description="The access token expired"$/, 'expired token: error="invalid_token"'],
          [TOKEN_EXPIRED, 'expired token: ERR_TOKEN_EXPIRED'],
          [/^refreshed and retried: whoami HTTP 200$/, 'after the invalid_token challenge, one refresh and a retry succeed']
        ] satisfies Expected[]
      : [[/^expired token: skipped \(set EXPIRY_WAIT; see the top of this script\)$/, 'without EXPIRY_WAIT the expiry step is skipped']] satisfies Expected[]),
    [/^logout-all: HTTP 204$/, 'logout-all answers 204'],
    [/^refresh after logout-all:$/, 'refresh after logout-all: heading'],
    [UNAUTHORIZED, 'refresh after logout-all: 401'],
    [REVOKED, 'refresh after logout-all: ERR_REFRESH_TOKEN_REVOKED, and no challenge line (not a Bearer failure)']
  ]
}

/** A port nothing listens on: the OS gave it to a server that is closed again. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function runScript (env: Record<string, string>): Promise<{ stdout: string, stderr: string }> {
  try {
    // /bin/sh is dash on Debian: a bash-only construct in the script fails here.
    return await run('/bin/sh', [SCRIPT], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: SCRIPT_TIMEOUT_MS })
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`examples/curl.sh failed: ${e.message}\nstdout:\n${e.stdout ?? ''}\nstderr:\n${e.stderr ?? ''}`, { cause: err })
  }
}

t.test('the script needs nothing but curl and a POSIX shell, and defaults to the README address', async (t) => {
  const script = readFileSync(SCRIPT, 'utf8')
  t.match(script, /^#!\/bin\/sh\n/, 'a POSIX sh script')
  t.match(script, 'BASE_URL=${BASE_URL:-http://127.0.0.1:3000}', 'BASE_URL defaults to the address of npm start')
  const code = script.split('\n').filter((line) => !/^\s*#/.test(line)).join('\n')
  t.notMatch(code, /\bjq\b/, 'no jq')
  t.notMatch(code, /\b(python3?|node|perl|awk)\b/, 'no other interpreter')
})

t.test('examples/curl.sh against a real Tessera, line by line', async (t) => {
  const tessera = await startTessera(t, { ACCESS_TOKEN_TTL: TTL })

  t.test('with EMAIL and EXPIRY_WAIT: every step, the expired token included', async (t) => {
    const email = 'curl-full@example.com'
    const { stdout, stderr } = await runScript({ BASE_URL: tessera.baseUrl, EMAIL: email, EXPIRY_WAIT })
    t.comment(stdout.trimEnd())
    t.equal(stderr, '', 'nothing on stderr')
    const lines = stdout.trimEnd().split('\n')
    const expected = expectedLines(email, true)
    t.equal(lines.length, expected.length, 'as many lines as expected')
    expected.forEach(([pattern, what], i) => t.match(lines[i], pattern, `line ${i + 1}: ${what}`))
  })

  t.test('with the defaults: a random email, so a second run registers again', async (t) => {
    const first = await runScript({ BASE_URL: tessera.baseUrl })
    const second = await runScript({ BASE_URL: tessera.baseUrl })
    const emails = [first, second].map(({ stdout }) => /^login: (\S+),/m.exec(stdout)?.[1])
    t.match(emails[0], /^curl-[0-9a-f]{12}@example\.com$/, 'the default email is random')
    t.not(emails[0], emails[1], 'two runs use two addresses')
    for (const [i, { stdout, stderr }] of [first, second].entries()) {
      t.equal(stderr, '', `run ${i + 1}: nothing on stderr`)
      const lines = stdout.trimEnd().split('\n')
      const expected = expectedLines(emails[i] ?? '', false)
      t.equal(lines.length, expected.length, `run ${i + 1}: as many lines as expected`)
      expected.forEach(([pattern, what], j) => t.match(lines[j], pattern, `run ${i + 1}, line ${j + 1}: ${what}`))
    }
  })

  t.test('a server that cannot be reached: the script stops with curl\'s error, not with empty tokens', async (t) => {
    const err = await runScript({ BASE_URL: `http://127.0.0.1:${await closedPort()}` }).then(() => null, (e: unknown) => e as Error)
    t.ok(err, 'non-zero exit')
    t.match(err?.message ?? '', /curl: \(7\)/, 'curl reports that it could not connect')
  })
})
