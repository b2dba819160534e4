// Shared by the key tests: an app over a real key directory (DirectoryKeyProvider), the keys CLI
// run in-process with string-collecting writers, and small JWT helpers.
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app'
import { runKeysCommand } from '../../src/cli/keys-command'
import { ManualClock } from '../../src/clock'
import type { Config } from '../../src/config'
import type { KeyMeta, PublicJwk } from '../../src/keys/key'
import { createKeyProvider, type KeyProvider } from '../../src/keys/key-provider'
import { PasswordHasher } from '../../src/lib/password-hasher'
import { createSqliteStore } from '../../src/store/sqlite-store'
import type { UserStore } from '../../src/store/user-store'
import { PASSWORD, START, testConfig, type AuthResultBody } from './app'

export interface LogLine { level: 'info' | 'error', obj: object, msg: string }

/** The small logger createKeyProvider takes, recording every line. */
export function recordingLogger (): { info: (obj: object, msg: string) => void, error: (obj: object, msg: string) => void, lines: LogLine[] } {
  const lines: LogLine[] = []
  return {
    lines,
    info: (obj, msg) => { lines.push({ level: 'info', obj, msg }) },
    error: (obj, msg) => { lines.push({ level: 'error', obj, msg }) }
  }
}

export interface DirApp {
  app: FastifyInstance
  config: Config
  clock: ManualClock
  keys: KeyProvider
  store: UserStore
  dir: string
  log: ReturnType<typeof recordingLogger>
}

/**
 * The real app with a DirectoryKeyProvider on `dir` (a fresh t.testdir() unless given); the provider
 * and the app share one ManualClock. Short lifetimes by default so the whole lifecycle fits in a test.
 */
export async function buildWithDir (t: Test, options: { env?: Record<string, string>, dir?: string, clock?: ManualClock } = {}): Promise<DirApp> {
  const dir = options.dir ?? t.testdir()
  const clock = options.clock ?? new ManualClock(START)
  const config = testConfig({
    JWT_KEYS_DIR: dir,
    ACCESS_TOKEN_TTL: '15m',
    REFRESH_TOKEN_TTL: '1h',
    // Emailed links are signed by the same keys; at most 1h keeps the retirement grace at 1h + 30 s.
    VERIFY_TOKEN_TTL: '1h',
    CLOCK_TOLERANCE: '30s',
    JWKS_MAX_AGE: '10m',
    // Longer than any test runs, so the directory is re-read only when a test calls reload() (or sets
    // JWT_KEYS_RELOAD itself) and nothing depends on real time; short enough that a rotated key, which
    // signs JWKS_MAX_AGE + JWT_KEYS_RELOAD after `keys rotate`, signs while pre-rotation access tokens live.
    JWT_KEYS_RELOAD: '1m',
    ...options.env
  })
  const log = recordingLogger()
  const keys = createKeyProvider(config.jwt, clock, log)
  const store = createSqliteStore({ path: ':memory:', clock })
  const hasher = new PasswordHasher(config.password.argon2)
  const app = await buildApp(config, { clock, store, keys, hasher, logger: false })
  t.teardown(() => app.close())
  return { app, config, clock, keys, store, dir, log }
}

export interface CliResult { code: number, out: string, err: string }

/** `npm run keys -- …` in-process, with the given clock. */
export async function keysCli (args: string[], config: Config, clock: ManualClock): Promise<CliResult> {
  let out = ''
  let err = ''
  const code = await runKeysCommand(args, config, {
    stdout: { write: (s: string) => { out += s } },
    stderr: { write: (s: string) => { err += s } },
    clock
  })
  return { code, out, err }
}

/** The STATE column of `keys list` for each kid. */
export function listedStates (listing: string): Record<string, string> {
  const lines = listing.trimEnd().split('\n')
  const header = lines[0].split(/\s{2,}/)
  const kidCol = header.indexOf('KID')
  const stateCol = header.indexOf('STATE')
  const states: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const cells = line.split(/\s{2,}/)
    states[cells[kidCol]] = cells[stateCol]
  }
  return states
}

/** Metadata of every key in the directory, oldest first. */
export function dirKeys (dir: string): KeyMeta[] {
  return readdirSync(dir).filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as KeyMeta)
    .sort((a, b) => a.signsFrom - b.signsFrom || a.createdAt - b.createdAt)
}

export function filesIn (dir: string): string[] {
  return readdirSync(dir).sort()
}

export interface JwtHeader { alg: string, typ: string, kid?: string }

export function tokenHeader (token: string): JwtHeader {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as JwtHeader
}

export async function jwks (app: FastifyInstance): Promise<PublicJwk[]> {
  const res = await app.inject({ url: '/.well-known/jwks.json' })
  if (res.statusCode !== 200) throw new Error(`jwks: ${res.statusCode} ${res.body}`)
  return res.json<{ keys: PublicJwk[] }>().keys
}

export async function jwksKids (app: FastifyInstance): Promise<string[]> {
  return (await jwks(app)).map((k) => k.kid).sort()
}

export async function login (app: FastifyInstance, email = 'alice@example.com'): Promise<AuthResultBody> {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json<AuthResultBody>()
}

export async function whoami (app: FastifyInstance, token: string): Promise<LightMyRequestResponse> {
  return app.inject({ url: '/v1/auth/whoami', headers: { authorization: `Bearer ${token}` } })
}

export async function refresh (app: FastifyInstance, refreshToken: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
}

/** Assert the 401 invalid_token answer of a protected route, with its RFC 6750 challenge. */
export function assertInvalidToken (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 401, `${message}: 401`)
  t.match(res.headers['www-authenticate'], /error="invalid_token"/, `${message}: invalid_token challenge`)
  t.equal(res.json<{ code: string }>().code, 'ERR_TOKEN_INVALID', `${message}: ERR_TOKEN_INVALID`)
}

/**
 * Verify a token's signature the way a downstream service does: with nothing but the published JWKS
 * (key chosen by kid, algorithm pinned to the JWK's alg). Returns false when no published key fits.
 */
export function verifiesWithJwks (token: string, set: PublicJwk[]): boolean {
  const [h, p, s] = token.split('.')
  const header = tokenHeader(token)
  const jwk = set.find((k) => k.kid === header.kid)
  if (jwk === undefined || jwk.alg !== header.alg) return false
  const key = createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' })
  const input = Buffer.from(`${h}.${p}`)
  const signature = Buffer.from(s, 'base64url')
  switch (jwk.alg) {
    case 'EdDSA': return verify(null, input, key, signature)
    case 'ES256': return verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
    case 'RS256': return verify('sha256', input, key, signature)
    default: return false
  }
}
