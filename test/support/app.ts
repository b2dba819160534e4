// Builds the real app (same plugins, same validation as production) with test overrides and teardown.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp, type AppDeps } from '../../src/app'
import { ManualClock } from '../../src/clock'
import { ConfigError, loadConfig, type Config } from '../../src/config'
import { asymmetricKey, thumbprintKid, type SigningKey } from '../../src/keys/key'
import { staticKeyProvider, type KeyProvider } from '../../src/keys/key-provider'
import { PasswordHasher } from '../../src/lib/password-hasher'
import { createSqliteStore } from '../../src/store/sqlite-store'
import type { UserStore } from '../../src/store/user-store'
import { PASSWORD } from './passwords'

/** Cheap argon2 parameters so the suite stays fast; production defaults are tested in test/lib. */
export const TEST_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1', ARGON2_PARALLELISM: '1' }

export const START = Date.UTC(2026, 0, 1, 12, 0, 0)

export interface TestContext {
  app: FastifyInstance
  config: Config
  clock: ManualClock
  store: UserStore
  keys: KeyProvider
  key: SigningKey
  hasher: PasswordHasher
}

/** An Ed25519 key valid from the epoch, for tests that need to sign their own tokens. */
export function makeKey (signsFrom = 0): SigningKey {
  const privateKey = generateKeyPairSync('ed25519').privateKey
  const kid = thumbprintKid(privateKey.export({ format: 'jwk' }))
  return asymmetricKey({ kid, alg: 'EdDSA', createdAt: signsFrom, signsFrom, retiredAt: null }, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
}

/** A random MFA key per test process, so no test writes mfa.key into the working directory's data/keys. */
export const TEST_MFA_KEY = randomBytes(32).toString('base64')

export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({ DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', RATE_LIMIT: 'off', MFA_ENCRYPTION_KEY: TEST_MFA_KEY, ...TEST_ARGON2, ...env })
}

export interface BuildOptions {
  env?: Record<string, string>
  clock?: ManualClock
  store?: UserStore
  key?: SigningKey
  logger?: AppDeps['logger']
  mailer?: AppDeps['mailer']
  httpTimeouts?: AppDeps['httpTimeouts']
  compileSchemas?: AppDeps['compileSchemas']
  /** A hasher to spy on; by default one with the config's argon2 parameters. */
  hasher?: PasswordHasher
  /** Metrics to read (a PrometheusMetrics); by default what the config says (off without METRICS_PORT). */
  metrics?: AppDeps['metrics']
}

export async function build (t: Test, options: BuildOptions = {}): Promise<TestContext> {
  const config = testConfig(options.env)
  const clock = options.clock ?? new ManualClock(START)
  const store = options.store ?? createSqliteStore({ path: ':memory:', clock })
  const key = options.key ?? makeKey()
  const keys = staticKeyProvider([key], config.jwt, clock)
  const hasher = options.hasher ?? new PasswordHasher(config.password.argon2)
  const app = await buildApp(config, {
    clock, store, keys, hasher, logger: options.logger ?? false, mailer: options.mailer, httpTimeouts: options.httpTimeouts, compileSchemas: options.compileSchemas,
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {})
  })
  t.teardown(() => app.close())
  return { app, config, clock, store, keys, key, hasher }
}

export { PASSWORD }

export interface AuthResultBody {
  user: { id: string, email: string, name: string | null, role: string, disabled: boolean, emailVerified: boolean, mfaEnabled: boolean, createdAt: string, updatedAt: string }
  tokenType: 'Bearer' | 'DPoP'
  accessToken: string
  expiresIn: number
  refreshToken: string
  refreshExpiresIn: number
  sessionId: string
}

export async function register (app: FastifyInstance, email = 'alice@example.com', password = PASSWORD): Promise<AuthResultBody> {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email, password } })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  return res.json<AuthResultBody>()
}

/** Register a user and promote it to admin directly in the store, then log in again for an admin token. */
export async function registerAdmin (ctx: TestContext, email = 'admin@example.com'): Promise<AuthResultBody> {
  const { user } = await register(ctx.app, email)
  await ctx.store.update(user.id, { role: 'admin' })
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } })
  return res.json<AuthResultBody>()
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

/** Assert a problem+json answer with its status and stable code. */
export function assertProblem (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status} (${code})`)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const body = res.json<{ status: number, code: string, type: string, title: string, detail: string }>()
  t.equal(body.code, code)
  t.equal(body.status, status)
  t.type(body.title, 'string')
  t.type(body.detail, 'string')
}

/** The message loadConfig refuses `env` with; fails the test if it is accepted. */
export function refusal (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return err.message
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`)
}
