// End to end, two real processes: Tessera and examples/downstream, which trusts it through the JWKS URL
// alone. Proves that a key rotation is invisible to the downstream service, that a retired key stops
// verifying there once its JWKS cache refreshes, and that the downstream checks typ, iss, aud and alg.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { runKeysCommand } from '../../src/cli/keys-command'
import { loadConfig } from '../../src/config'
import { compiled } from '../e2e/server-process'
import { PASSWORD } from '../support/passwords'

const ROOT = resolve(__dirname, '..', '..')
const CLI = join(ROOT, 'src', 'cli', 'main.ts')
const START_TIMEOUT_MS = 30_000
const CLI_TIMEOUT_MS = 30_000
const POLL_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 5_000

/** A minimal environment: nothing from the developer's shell (or tap's NODE_OPTIONS) leaks into the children. */
function baseEnv (): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SYSTEMROOT']) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return env
}

interface Child {
  proc: ChildProcess
  url: string
  output: string[]
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stop (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

function stopOnTeardown (t: Test, proc: ChildProcess): void {
  t.teardown(() => stop(proc))
}

/** Start `node <args>` in the repo root and wait for Fastify's "Server listening at" line. */
async function startServer (t: Test, name: string, args: string[], env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  stopOnTeardown(t, proc)
  const output: string[] = []
  const keep = (line: string): void => { output.push(line); if (output.length > 200) output.shift() }
  createInterface({ input: proc.stderr! }).on('line', (line) => keep(`[stderr] ${line}`))
  const lines = createInterface({ input: proc.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const fail = (why: string): void => { clearTimeout(timer); reject(new Error(`${name} ${why}:\n${output.join('\n')}`)) }
    const timer = setTimeout(() => fail(`did not listen within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
    proc.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`))
    lines.on('line', (line) => {
      keep(line)
      let msg: unknown
      try { msg = (JSON.parse(line) as { msg?: unknown }).msg } catch { return }
      const match = typeof msg === 'string' ? /^Server listening at (http:\/\/127\.0\.0\.1:\d+)$/.exec(msg) : null
      if (match !== null) { clearTimeout(timer); resolve(match[1]) }
    })
  })
  return { proc, url, output }
}

/** `keys <args>` through the real (compiled) CLI when src/cli/main.ts exists, else runKeysCommand in-process. */
async function keys (t: Test, env: Record<string, string>, args: string[]): Promise<string> {
  if (!existsSync(CLI)) {
    let out = ''
    let err = ''
    const code = await runKeysCommand(args, loadConfig(env), { stdout: { write: (s: string) => { out += s } }, stderr: { write: (s: string) => { err += s } } })
    t.equal(code, 0, `keys ${args.join(' ')} (in-process runKeysCommand: ${CLI} does not exist) ${err}`)
    return out
  }
  const proc = spawn(process.execPath, [compiled('cli/main.js'), 'keys', ...args], { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  stopOnTeardown(t, proc)
  let out = ''
  let err = ''
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); resolve('timeout') }, CLI_TIMEOUT_MS)
    proc.once('exit', (c, signal) => { clearTimeout(timer); resolve(c ?? signal ?? 'unknown') })
  })
  t.equal(code, 0, `keys ${args.join(' ')} (CLI process) ${err}`)
  return out
}

interface Answer { status: number, headers: Headers, body: unknown }

async function request (url: string, init: { method?: string, token?: string, body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })
  const text = await res.text()
  let body: unknown = text
  try { body = JSON.parse(text) } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body }
}

/** Poll `probe` every 200 ms until it returns a value, for at most POLL_TIMEOUT_MS. */
async function pollUntil<T> (what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + POLL_TIMEOUT_MS
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${POLL_TIMEOUT_MS} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const headerOf = (token: string): { kid: string, alg: string, typ: string } => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())

/** Sign a JWT ourselves: with Tessera's own private key, this isolates one check at a time. */
function forge (header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject | Buffer | null): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  if (key === null) return `${input}.`
  const signature = Buffer.isBuffer(key) ? createHmac('sha256', key).update(input).digest() : sign(null, Buffer.from(input), key)
  return `${input}.${signature.toString('base64url')}`
}

interface AuthResult { user: { id: string }, accessToken: string, refreshToken: string }

t.test('a downstream service trusts Tessera through the JWKS alone, across rotation and retirement', async (t) => {
  const dir = t.testdir()
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
    JWT_KEYS_DIR: join(dir, 'keys'),
    JWKS_MAX_AGE: '2s',
    JWT_KEYS_RELOAD: '1s',
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'info'
  }
  const tessera = await startServer(t, 'tessera', [compiled('server.js')], env)
  const downstream = await startServer(t, 'downstream', ['--import', 'tsx', 'examples/downstream/server.ts'], {
    HOST: '127.0.0.1',
    PORT: '0',
    TESSERA_JWKS_URL: `${tessera.url}/.well-known/jwks.json`,
    JWKS_CACHE_TTL: '1',
    LOG_LEVEL: 'info'
  })
  t.teardown(() => {
    if (t.passing()) return
    t.comment(`tessera output:\n${tessera.output.join('\n')}`)
    t.comment(`downstream output:\n${downstream.output.join('\n')}`)
  })
  const hello = (token?: string): Promise<Answer> => request(`${downstream.url}/hello`, { token })
  const login = async (): Promise<AuthResult> => {
    const res = await request(`${tessera.url}/v1/auth/login`, { method: 'POST', body: { email: 'alice@example.com', password: PASSWORD } })
    if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body as AuthResult
  }
  const assertRefused = (t: Test, res: Answer, what: string): void => {
    t.equal(res.status, 401, `${what}: 401`)
    t.match(res.headers.get('www-authenticate'), /^Bearer .*error="invalid_token"/, `${what}: invalid_token challenge`)
  }

  t.same((await request(`${downstream.url}/health`)).body, { status: 'ok' }, 'downstream /health')
  const noToken = await hello()
  t.equal(noToken.status, 401, 'no token: 401')
  t.notMatch(noToken.headers.get('www-authenticate') ?? '', /error=/, 'no token: bare challenge (RFC 6750 §3.1)')
  t.match(noToken.headers.get('www-authenticate'), /^Bearer realm=/)

  const registered = await request(`${tessera.url}/v1/auth/register`, { method: 'POST', body: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(registered.status, 201, 'registered on Tessera')
  const { user, accessToken: tokenA, refreshToken } = registered.body as AuthResult
  const kidA = headerOf(tokenA).kid

  await t.test('token A is accepted', async (t) => {
    const res = await hello(tokenA)
    t.equal(res.status, 200, JSON.stringify(res.body))
    t.same(res.body, { hello: user.id })
  })

  // Tessera's own private key (read from its key directory) signs tokens that differ from a valid one in one way.
  const privateKeyA = createPrivateKey(readFileSync(join(env.JWT_KEYS_DIR, `${kidA}.pem`), 'utf8'))
  const accessClaims = (jti: string): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000)
    return { iss: 'tessera', aud: 'tessera-api', sub: user.id, role: 'user', iat: now, exp: now + 600, jti }
  }

  await t.test('the downstream checks typ, iss, aud, alg and the key, one at a time', async (t) => {
    assertRefused(t, await hello(refreshToken), "Tessera's refresh token (typ rt+jwt, aud = issuer)")
    assertRefused(t, await hello('not.a.token'), 'garbage')
    t.equal((await request(`${downstream.url}/hello`, { token: `${tokenA} extra` })).status, 400, 'malformed Authorization header: 400')

    const privateKey = privateKeyA
    const header = { alg: 'EdDSA', typ: 'at+jwt', kid: kidA }
    const claims = accessClaims('forged-1')
    const now = claims.iat as number
    const control = await hello(forge(header, claims, privateKey))
    t.equal(control.status, 200, 'control: the well-formed forged token passes, so each refusal below is due to its one change')
    assertRefused(t, await hello(forge({ ...header, typ: 'JWT' }, claims, privateKey)), 'typ JWT')
    assertRefused(t, await hello(forge({ alg: 'EdDSA', kid: kidA }, claims, privateKey)), 'no typ')
    assertRefused(t, await hello(forge(header, { ...claims, iss: 'evil' }, privateKey)), 'wrong iss')
    assertRefused(t, await hello(forge(header, { ...claims, aud: 'tessera' }, privateKey)), 'aud of a refresh token')
    assertRefused(t, await hello(forge(header, { ...claims, iat: now - 7200, exp: now - 3600 }, privateKey)), 'expired')
    const noSub = { ...claims }
    delete noSub.sub
    assertRefused(t, await hello(forge(header, noSub, privateKey)), 'no sub')
    const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString()
    assertRefused(t, await hello(forge({ ...header, alg: 'HS256' }, claims, Buffer.from(publicPem))), 'HS256 signed with the public key (alg confusion)')
    assertRefused(t, await hello(forge({ ...header, alg: 'none' }, claims, null)), 'alg none')
    assertRefused(t, await hello(forge({ ...header, alg: 'ES256' }, claims, privateKey)), 'alg other than the key\'s')
    const stranger = generateKeyPairSync('ed25519').privateKey
    assertRefused(t, await hello(forge({ ...header, kid: 'unknownKid' }, claims, stranger)), 'kid not in the JWKS')
    assertRefused(t, await hello(forge(header, claims, stranger)), 'right kid, wrong key (bad signature)')
  })

  // Tessera verifies A itself too, which puts A in its own verification cache (see the retirement check below).
  t.equal((await request(`${tessera.url}/v1/auth/whoami`, { token: tokenA })).status, 200, 'Tessera accepts A')

  const rotated = await keys(t, env, ['rotate'])
  const kidB = /added (\S+) /.exec(rotated)?.[1]
  t.ok(kidB !== undefined && kidB !== kidA, `rotate added a new key ${kidB}`)

  const tokenB = await pollUntil('Tessera signs with the new key', async () => {
    const { accessToken } = await login()
    return headerOf(accessToken).kid === kidA ? undefined : accessToken
  })
  t.equal(headerOf(tokenB).kid, kidB, 'token B is signed by the rotated-in key')

  await t.test('after rotation both A and B are accepted, with no restart of either service', async (t) => {
    const b = await hello(tokenB)
    t.equal(b.status, 200, JSON.stringify(b.body))
    t.same(b.body, { hello: user.id })
    const a = await hello(tokenA)
    t.equal(a.status, 200, `A still verifies (its key is verify-only): ${JSON.stringify(a.body)}`)
  })

  const retired = await keys(t, env, ['retire', kidA])
  t.match(retired, `retired ${kidA}`)

  await pollUntil("Tessera's JWKS drops the retired key", async () => {
    const jwks = (await request(`${tessera.url}/.well-known/jwks.json`)).body as { keys: Array<{ kid: string }> }
    return jwks.keys.some((k) => k.kid === kidA) ? undefined : true
  })
  // Polled every 200 ms, faster than JWKS_CACHE_TTL=1s: a cache that re-arms a stale key under steady
  // traffic (get-jwks' stale fallback does) would keep A alive forever and time out here.
  const refusedA = await pollUntil('the downstream refuses A', async () => {
    const res = await hello(tokenA)
    return res.status === 200 ? undefined : res
  })
  assertRefused(t, refusedA, 'A after its key is retired')
  const b = await hello(tokenB)
  t.equal(b.status, 200, 'B is still accepted')
  t.same(b.body, { hello: user.id })

  // Tessera verified A before the retirement, so A sits in its verification cache: the kid lookup must still win.
  t.equal((await request(`${tessera.url}/v1/auth/whoami`, { token: tokenA })).status, 401, 'Tessera itself refuses A after retirement')
  t.equal((await request(`${tessera.url}/v1/auth/whoami`, { token: tokenB })).status, 200, 'Tessera accepts B')

  await stop(tessera.proc)
  const orphan = await hello(forge({ alg: 'EdDSA', typ: 'at+jwt', kid: 'notCached' }, accessClaims('orphan'), generateKeyPairSync('ed25519').privateKey))
  t.equal(orphan.status, 503, 'Tessera down and the key not cached: 503, not a 401 that would send the client to log in again')
})

t.test('DPoP: a token bound by Tessera is accepted downstream only with a proof from its key (panva\'s dpop, jose)', async (t) => {
  const dir = t.testdir()
  const tessera = await startServer(t, 'tessera', [compiled('server.js')], {
    HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, JWT_KEYS_DIR: join(dir, 'keys'),
    ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1', RATE_LIMIT: 'off', LOG_LEVEL: 'info'
  })
  const downstream = await startServer(t, 'downstream', ['--import', 'tsx', 'examples/downstream/server.ts'], {
    HOST: '127.0.0.1', PORT: '0', TESSERA_JWKS_URL: `${tessera.url}/.well-known/jwks.json`, LOG_LEVEL: 'info'
  })
  const { generateKeyPair, generateProof } = await import('dpop')
  const { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, jwtVerify } = await import('jose')
  const key = await generateKeyPair('ES256')
  const jkt = await calculateJwkThumbprint(await exportJWK(key.publicKey), 'sha256')

  const registerUrl = `${tessera.url}/v1/auth/register`
  const res = await fetch(registerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', dpop: await generateProof(key, registerUrl, 'POST') },
    body: JSON.stringify({ email: 'alice@example.com', password: PASSWORD }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })
  t.equal(res.status, 201)
  const { accessToken, tokenType, user } = await res.json() as AuthResult & { tokenType: string }
  t.equal(tokenType, 'DPoP')

  // jose alone, through the JWKS, verifies the token and reads its binding.
  const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(`${tessera.url}/.well-known/jwks.json`)), {
    issuer: 'tessera', audience: 'tessera-api', typ: 'at+jwt', algorithms: ['EdDSA']
  })
  t.same(payload.cnf, { jkt })

  const helloUrl = `${downstream.url}/hello`
  const call = async (headers: Record<string, string>): Promise<Answer> => {
    const r = await fetch(helloUrl, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    return { status: r.status, headers: r.headers, body: await r.json() as unknown }
  }
  const proof = await generateProof(key, helloUrl, 'GET', undefined, accessToken)
  const ok = await call({ authorization: `DPoP ${accessToken}`, dpop: proof })
  t.equal(ok.status, 200, JSON.stringify(ok.body))
  t.same(ok.body, { hello: user.id })

  const refusals: Array<[string, Record<string, string>]> = [
    ['the same proof again (replay)', { authorization: `DPoP ${accessToken}`, dpop: proof }],
    ['the copied token as Bearer', { authorization: `Bearer ${accessToken}` }],
    ['the copied token with no proof', { authorization: `DPoP ${accessToken}` }],
    ['the copied token with a thief\'s own key', { authorization: `DPoP ${accessToken}`, dpop: await generateProof(await generateKeyPair('ES256'), helloUrl, 'GET', undefined, accessToken) }],
    ['a proof made for Tessera\'s whoami', { authorization: `DPoP ${accessToken}`, dpop: await generateProof(key, `${tessera.url}/v1/auth/whoami`, 'GET', undefined, accessToken) }],
    ['a proof for POST', { authorization: `DPoP ${accessToken}`, dpop: await generateProof(key, helloUrl, 'POST', undefined, accessToken) }]
  ]
  for (const [what, headers] of refusals) {
    const r = await call(headers)
    t.equal(r.status, 401, what)
    t.match(r.headers.get('www-authenticate'), /^DPoP algs="ES256 [^"]*", error="invalid_dpop_proof"/, `${what}: DPoP challenge`)
  }

  // Tessera refuses the copy the same way.
  const whoamiUrl = `${tessera.url}/v1/auth/whoami`
  const mine = await fetch(whoamiUrl, { headers: { authorization: `DPoP ${accessToken}`, dpop: await generateProof(key, whoamiUrl, 'GET', undefined, accessToken) } })
  t.equal(mine.status, 200)
  t.equal((await fetch(whoamiUrl, { headers: { authorization: `Bearer ${accessToken}` } })).status, 401)
})
