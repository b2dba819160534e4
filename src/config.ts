// Every setting, from the environment (and .env when present), validated once at start-up.
import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import ipaddr from 'ipaddr.js'
import { DURATION_PATTERN, parseDuration } from './lib/duration'
import { mfaAudience, resetAudience, verifyAudience } from './tokens/claims'

/** `<max>/<window>`, e.g. `10/15m`: at most max requests per window. */
const RATE_PATTERN = '^\\s*\\d+\\s*/\\s*\\d+\\s*[smhd]?\\s*$'

const Duration = (def: string, description: string) =>
  Type.String({ pattern: DURATION_PATTERN, default: def, description })

export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  DATABASE_URL: Type.String({ default: 'sqlite:./data/tessera.db', pattern: '^(sqlite:|postgres://|postgresql://)' }),
  JWT_ALG: Type.Union([Type.Literal('EdDSA'), Type.Literal('ES256'), Type.Literal('RS256'), Type.Literal('HS256')], { default: 'EdDSA' }),
  JWT_KEYS_DIR: Type.String({ default: './data/keys', minLength: 1 }),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_PRIVATE_KEY: Type.Optional(Type.String()),
  JWT_KEYS_RELOAD: Duration('30s', 'how often the key directory is re-read'),
  JWT_ISSUER: Type.String({ default: 'tessera', minLength: 1 }),
  JWT_AUDIENCE: Type.String({ default: 'tessera-api', minLength: 1 }),
  JWKS_MAX_AGE: Duration('10m', 'JWKS Cache-Control lifetime'),
  ACCESS_TOKEN_TTL: Duration('15m', 'access token lifetime'),
  REFRESH_TOKEN_TTL: Duration('30d', 'refresh token lifetime'),
  SESSION_MAX_AGE: Duration('90d', 'absolute session lifetime from login'),
  REFRESH_REUSE_GRACE: Duration('10s', 'how long a superseded refresh token may still be presented without ending its session; 0: never'),
  SESSIONS_PER_USER_MAX: Type.Integer({ minimum: 1, maximum: 10_000, default: 50 }),
  CLOCK_TOLERANCE: Duration('30s', 'leeway for exp/nbf/iat'),
  JWT_VERIFY_CACHE: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 10_000 }),
  PASSWORD_MIN_LENGTH: Type.Integer({ minimum: 8, maximum: 128, default: 15 }),
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 8192, maximum: 4_194_304, default: 19_456 }),
  ARGON2_ITERATIONS: Type.Integer({ minimum: 1, maximum: 20, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  RATE_LIMIT: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  RATE_LIMIT_LOGIN_IP: Type.String({ default: '100/15m', pattern: RATE_PATTERN }),
  RATE_LIMIT_LOGIN_ACCOUNT: Type.String({ default: '10/15m', pattern: RATE_PATTERN }),
  RATE_LIMIT_REGISTER_IP: Type.String({ default: '20/1h', pattern: RATE_PATTERN }),
  RATE_LIMIT_REFRESH_IP: Type.String({ default: '300/15m', pattern: RATE_PATTERN }),
  RATE_LIMIT_MAIL_IP: Type.String({ default: '20/1h', pattern: RATE_PATTERN }),
  RATE_LIMIT_MAIL_ADDRESS: Type.String({ default: '3/1h', pattern: RATE_PATTERN }),
  RATE_LIMIT_PASSWORD_CHECK_IP: Type.String({ default: '30/15m', pattern: RATE_PATTERN }),
  RATE_LIMIT_PASSWORD_CHECK_ACCOUNT: Type.String({ default: '10/15m', pattern: RATE_PATTERN }),
  RATE_LIMIT_MFA_ACCOUNT: Type.String({ default: '10/15m', pattern: RATE_PATTERN }),
  RATE_LIMIT_MFA_TOKEN: Type.String({ default: '5/5m', pattern: RATE_PATTERN }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REVOCATION_MODE: Type.Union([Type.Literal('stateless'), Type.Literal('hybrid')], { default: 'stateless' }),
  REVOCATION_CACHE_SIZE: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 50_000 }),
  REVOCATION_CACHE_TTL: Duration('5s', 'how long a cached token version or revoked-session flag is trusted (hybrid mode)'),
  DPOP: Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')], { default: 'optional' }),
  DPOP_PROOF_MAX_AGE: Duration('60s', 'how old a DPoP proof (its iat) may be, before the clock tolerance'),
  DPOP_NONCE: Type.Union([Type.Literal('off'), Type.Literal('on')], { default: 'off' }),
  DPOP_NONCE_SECRET: Type.Optional(Type.String()),
  DPOP_REPLAY_CACHE: Type.Integer({ minimum: 1000, maximum: 10_000_000, default: 100_000 }),
  EXTERNAL_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  CORS_ORIGINS: Type.String({ default: '' }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  WEB_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  // A string: empty (as in `METRICS_PORT=`) means off, like unset.
  METRICS_PORT: Type.Optional(Type.String({ pattern: '^\\s*(\\d{1,5})?\\s*$' })),
  METRICS_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  SECURITY_EVENTS_RETENTION: Duration('90d', 'how long security events are kept'),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAIL_FROM: Type.String({ default: 'Tessera <no-reply@localhost>', minLength: 3 }),
  PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:3000', pattern: '^https?://' }),
  RESET_TOKEN_TTL: Duration('30m', 'password reset link lifetime'),
  VERIFY_TOKEN_TTL: Duration('24h', 'email verification link lifetime'),
  REQUIRE_VERIFIED_EMAIL: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false' }),
  MFA_TOKEN_TTL: Duration('5m', 'how long the token between password and second factor lives'),
  MFA_ENCRYPTION_KEY: Type.Optional(Type.String())
})

export type RawConfig = Static<typeof ConfigSchema>

/** The validated configuration with durations in seconds and lists split. */
export interface Config {
  host: string
  port: number
  databaseUrl: string
  jwt: {
    alg: 'EdDSA' | 'ES256' | 'RS256' | 'HS256'
    keysDir: string
    secret: string | undefined
    /** A PEM private key from the environment, for platforms without a writable disk. */
    privateKeyPem: string | undefined
    /** Seconds between re-reads of the key directory (rotation by another process). */
    keysReload: number
    issuer: string
    audience: string
    jwksMaxAge: number
    accessTtl: number
    refreshTtl: number
    sessionMaxAge: number
    clockTolerance: number
    verifyCacheSize: number
    /** Lifetimes of the emailed link tokens (password reset, email verification). */
    resetTtl: number
    verifyTtl: number
    /** Seconds an mfaToken (between the password and the second factor) lives. */
    mfaTtl: number
  }
  mail: {
    /** smtp:// or smtps:// (may hold credentials: never logged); undefined writes mail to the log. */
    smtpUrl: string | undefined
    from: string
    /** Base of the links in mail, without a trailing slash. */
    publicUrl: string
  }
  /** Login answers 403 ERR_EMAIL_NOT_VERIFIED until the address is verified. */
  requireVerifiedEmail: boolean
  sessions: {
    /** Seconds after a rotation during which the superseded refresh token still refreshes (a retry, a race); 0: none. */
    reuseGrace: number
    /** Active sessions a user may have; a sign-in past it ends the least recently used. */
    maxPerUser: number
  }
  password: { minLength: number, argon2: { memoryCost: number, timeCost: number, parallelism: number } }
  mfa: {
    /** MFA_ENCRYPTION_KEY, decoded: 32 bytes; undefined: the key file beside the signing keys (created when missing). */
    encryptionKey: Buffer | undefined
  }
  rateLimit: boolean
  /** Each limit: at most `max` requests per `window` seconds. */
  rateLimits: Record<'loginIp' | 'loginAccount' | 'registerIp' | 'refreshIp' | 'mailIp' | 'mailAddress' | 'passwordCheckIp' | 'passwordCheckAccount' | 'mfaAccount' | 'mfaToken', RateRule>
  redisUrl: string | undefined
  /**
   * stateless: access tokens live out their TTL (the default, no per-request state). hybrid: access tokens
   * carry `ver` and `sid`, checked against a bounded cache of the store (src/revocation/).
   */
  revocation: { mode: 'stateless' | 'hybrid', cacheSize: number, cacheTtl: number }
  /**
   * DPoP (RFC 9449): off, optional (a client that sends a proof gets bound tokens) or required (no Bearer tokens).
   * maxAge: seconds a proof's iat may lie in the past (plus CLOCK_TOLERANCE); replayCache: jtis remembered per instance.
   */
  dpop: { mode: 'off' | 'optional' | 'required', maxAge: number, nonce: boolean, nonceSecret: string | undefined, replayCache: number }
  /** The URL clients reach this API at, when a proxy stands in front (origin and path prefix); DPoP proofs name it in htu. */
  externalUrl: URL | undefined
  corsOrigins: string[]
  /** false, or the comma-separated addresses, CIDRs and proxy-addr names (loopback…) of the proxies to trust. */
  trustProxy: false | string
  logLevel: string
  webConcurrency: number
  /** Prometheus metrics on a listener of their own; port undefined: off, nothing is collected. */
  metrics: { port: number | undefined, host: string }
  /** Seconds a security event is kept (SECURITY_EVENTS_RETENTION). */
  securityEventsRetention: number
}

export interface RateRule { max: number, window: number }

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const MAX_CLOCK_TOLERANCE = 300
/** A reset link is a credential for the whole account; OWASP's Forgot Password sheet asks for a short life. */
const MAX_RESET_TTL = 86_400
const MIN_HS256_SECRET_BYTES = 32
const MAX_REVOCATION_CACHE_TTL = 3600
/** A grace is for a lost answer retried or two requests racing: seconds. Minutes would let a copied token go unnoticed. */
const MAX_REFRESH_REUSE_GRACE = 300
/** A proof is made for one request: minutes would widen what the replay cache must remember for nothing. */
const MAX_DPOP_PROOF_AGE = 300

/** EXTERNAL_URL: scheme, host and an optional path prefix; nothing a request URL could not be built on. */
function externalUrlOf (value: string, problems: string[]): URL | undefined {
  if (!URL.canParse(value)) {
    problems.push('EXTERNAL_URL: not a valid http(s) URL')
    return undefined
  }
  const url = new URL(value)
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    problems.push('EXTERNAL_URL: give scheme, host and an optional path prefix only (no query, fragment or credentials)')
    return undefined
  }
  url.pathname = url.pathname.replace(/\/+$/, '')
  return url
}

/** An mfaToken stands for a checked password: minutes, so a stolen one soon dies (issue 16). */
const MAX_MFA_TOKEN_TTL = 900
/** AES-256-GCM. */
const MFA_KEY_BYTES = 32

/** MFA_ENCRYPTION_KEY: base64 or base64url of exactly 32 bytes; undefined when unset, null when malformed. */
function mfaKey (value: string | undefined): Buffer | undefined | null {
  if (value === undefined || value.trim() === '') return undefined
  const text = value.trim()
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return null
  const key = Buffer.from(text.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, ''), 'base64url')
  return key.length === MFA_KEY_BYTES ? key : null
}

function duration (raw: RawConfig, key: keyof RawConfig): number {
  try {
    return parseDuration(raw[key] as string)
  } catch (err) {
    throw new ConfigError(`${key}: ${(err as Error).message}`)
  }
}

function rate (raw: RawConfig, key: keyof RawConfig): RateRule {
  const [max, window] = (raw[key] as string).split('/')
  const rule = { max: Number(max.trim()), window: duration({ ...raw, [key]: window.trim() }, key) }
  if (rule.max < 1 || rule.window < 1) throw new ConfigError(`${key}: both the count and the window must be at least 1`)
  return rule
}

/** proxy-addr's names for address ranges, accepted by Fastify's trustProxy alongside addresses and CIDRs. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])
const TRUST_PROXY_HELP = 'give the addresses or CIDRs of your proxies instead, e.g. TRUST_PROXY=10.0.0.5 or TRUST_PROXY=10.0.1.0/24,loopback'

/**
 * Only a list of proxies: the client address (and with it every per-IP rate limit) is then the
 * nearest X-Forwarded-For entry that a trusted proxy wrote, not one the client made up.
 */
function parseTrustProxy (value: string, problems: string[]): false | string {
  const trimmed = value.trim()
  if (trimmed === 'false' || trimmed === '' || trimmed === '0') return false
  if (trimmed === 'true') {
    problems.push(`TRUST_PROXY: true trusts every X-Forwarded-For entry, so each client could pick its own address and rate-limit counter; ${TRUST_PROXY_HELP}`)
    return false
  }
  if (/^\d+$/.test(trimmed)) {
    // Fastify 5 ignores X-Forwarded-For under a hop count: it cannot tell the proxy from a client that connects directly.
    problems.push(`TRUST_PROXY: a hop count is not supported (Fastify would ignore X-Forwarded-For and count every client as the proxy); ${TRUST_PROXY_HELP}`)
    return false
  }
  const entries = trimmed.split(',').map((entry) => entry.trim())
  const invalid = entries.filter((entry) => !PROXY_RANGE_NAMES.has(entry) && !ipaddr.isValid(entry) && !ipaddr.isValidCIDR(entry))
  if (invalid.length > 0) {
    problems.push(`TRUST_PROXY: not an IP address, CIDR or one of loopback, linklocal, uniquelocal: ${invalid.map((e) => JSON.stringify(e)).join(', ')}`)
    return false
  }
  if (entries.some((entry) => ipaddr.isValidCIDR(entry) && ipaddr.parseCIDR(entry)[1] === 0)) {
    problems.push(`TRUST_PROXY: a /0 range trusts every address, like true; ${TRUST_PROXY_HELP}`)
    return false
  }
  return entries.join(',')
}

/** Turn validated raw settings into a Config, refusing weak or contradictory combinations. */
export function configFromRaw (raw: RawConfig): Config {
  const problems: string[] = []
  const clockTolerance = duration(raw, 'CLOCK_TOLERANCE')
  const accessTtl = duration(raw, 'ACCESS_TOKEN_TTL')
  const refreshTtl = duration(raw, 'REFRESH_TOKEN_TTL')
  const sessionMaxAge = duration(raw, 'SESSION_MAX_AGE')
  const jwksMaxAge = duration(raw, 'JWKS_MAX_AGE')
  const resetTtl = duration(raw, 'RESET_TOKEN_TTL')
  const verifyTtl = duration(raw, 'VERIFY_TOKEN_TTL')
  const revocationCacheTtl = duration(raw, 'REVOCATION_CACHE_TTL')
  const reuseGrace = duration(raw, 'REFRESH_REUSE_GRACE')
  const trustProxy = parseTrustProxy(raw.TRUST_PROXY, problems)
  const dpopMaxAge = duration(raw, 'DPOP_PROOF_MAX_AGE')
  if (dpopMaxAge < 1 || dpopMaxAge > MAX_DPOP_PROOF_AGE) problems.push(`DPOP_PROOF_MAX_AGE: must be between 1 s and 5m, got ${dpopMaxAge} s`)
  const nonceSecret = raw.DPOP_NONCE_SECRET === '' ? undefined : raw.DPOP_NONCE_SECRET
  if (nonceSecret !== undefined && Buffer.byteLength(nonceSecret, 'utf8') < MIN_HS256_SECRET_BYTES) {
    problems.push(`DPOP_NONCE_SECRET: must be at least ${MIN_HS256_SECRET_BYTES} bytes of random data`)
  }
  const externalUrl = raw.EXTERNAL_URL === undefined || raw.EXTERNAL_URL === '' ? undefined : externalUrlOf(raw.EXTERNAL_URL, problems)
  const mfaTokenTtl = duration(raw, 'MFA_TOKEN_TTL')
  const encryptionKey = mfaKey(raw.MFA_ENCRYPTION_KEY)
  if (mfaTokenTtl < 30 || mfaTokenTtl > MAX_MFA_TOKEN_TTL) problems.push(`MFA_TOKEN_TTL: must be between 30 s and 15m, got ${mfaTokenTtl} s`)
  // The value is a secret: never echoed.
  if (encryptionKey === null) problems.push(`MFA_ENCRYPTION_KEY: must be ${MFA_KEY_BYTES} random bytes in base64, e.g. from: openssl rand -base64 32`)
  const securityEventsRetention = duration(raw, 'SECURITY_EVENTS_RETENTION')
  const metricsPort = raw.METRICS_PORT === undefined || raw.METRICS_PORT.trim() === '' ? undefined : Number(raw.METRICS_PORT)
  if (metricsPort !== undefined && metricsPort > 65535) problems.push(`METRICS_PORT: 0-65535, got ${metricsPort}`)
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === raw.PORT) {
    problems.push(`METRICS_PORT: must differ from PORT (${raw.PORT}): metrics are never served on the API's listener`)
  }
  if (securityEventsRetention < 86_400) problems.push(`SECURITY_EVENTS_RETENTION: at least 1d, got ${securityEventsRetention} s`)
  if (clockTolerance > MAX_CLOCK_TOLERANCE) problems.push(`CLOCK_TOLERANCE: at most 5m (300 s) is allowed, got ${clockTolerance} s`)
  if (accessTtl < 1) problems.push('ACCESS_TOKEN_TTL: must be at least 1 s')
  if (refreshTtl < 1) problems.push('REFRESH_TOKEN_TTL: must be at least 1 s')
  if (sessionMaxAge < 1) problems.push('SESSION_MAX_AGE: must be at least 1 s')
  if (reuseGrace > MAX_REFRESH_REUSE_GRACE) problems.push(`REFRESH_REUSE_GRACE: at most 5m (300 s) is allowed, got ${reuseGrace} s`)
  if (resetTtl < 1 || resetTtl > MAX_RESET_TTL) problems.push(`RESET_TOKEN_TTL: must be between 1 s and 24h, got ${resetTtl} s`)
  if (verifyTtl < 1) problems.push('VERIFY_TOKEN_TTL: must be at least 1 s')
  // Past an hour the "revoked within seconds" promise of hybrid mode means nothing; past the access TTL it buys nothing.
  if (revocationCacheTtl < 1 || revocationCacheTtl > MAX_REVOCATION_CACHE_TTL) {
    problems.push(`REVOCATION_CACHE_TTL: must be between 1 s and 1h, got ${revocationCacheTtl} s`)
  }
  if ([resetAudience(raw.JWT_ISSUER), verifyAudience(raw.JWT_ISSUER), mfaAudience(raw.JWT_ISSUER)].includes(raw.JWT_AUDIENCE)) {
    problems.push('JWT_AUDIENCE: must differ from JWT_ISSUER + "/reset", "/verify" and "/mfa", the audiences of emailed link tokens and mfaTokens')
  }
  if (!URL.canParse(raw.PUBLIC_URL)) problems.push('PUBLIC_URL: not a valid http(s) URL')
  if (raw.SMTP_URL !== undefined && raw.SMTP_URL !== '' && !URL.canParse(raw.SMTP_URL)) {
    // The value may hold a password: never echoed.
    problems.push('SMTP_URL: not a valid smtp:// or smtps:// URL')
  }
  if (raw.JWT_ISSUER === raw.JWT_AUDIENCE) {
    problems.push('JWT_AUDIENCE: must differ from JWT_ISSUER, or a refresh token (audience = issuer) would pass as an access token')
  }
  if (raw.JWT_ALG === 'HS256') {
    if (raw.JWT_SECRET === undefined || raw.JWT_SECRET === '') {
      problems.push('JWT_SECRET: required when JWT_ALG=HS256')
    } else if (Buffer.byteLength(raw.JWT_SECRET, 'utf8') < MIN_HS256_SECRET_BYTES) {
      problems.push(`JWT_SECRET: must be at least ${MIN_HS256_SECRET_BYTES} bytes of random data for HS256`)
    }
  } else if (raw.JWT_SECRET !== undefined && raw.JWT_SECRET !== '') {
    problems.push(`JWT_SECRET: only used with JWT_ALG=HS256 (JWT_ALG is ${raw.JWT_ALG}); remove it`)
  }
  if (raw.JWT_PRIVATE_KEY !== undefined && raw.JWT_PRIVATE_KEY !== '' && raw.JWT_ALG === 'HS256') {
    problems.push('JWT_PRIVATE_KEY: not used with JWT_ALG=HS256 (the key is JWT_SECRET); remove one of them')
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`)
  return {
    host: raw.HOST,
    port: raw.PORT,
    databaseUrl: raw.DATABASE_URL,
    jwt: {
      alg: raw.JWT_ALG,
      keysDir: raw.JWT_KEYS_DIR,
      secret: raw.JWT_SECRET === '' ? undefined : raw.JWT_SECRET,
      privateKeyPem: raw.JWT_PRIVATE_KEY === '' ? undefined : raw.JWT_PRIVATE_KEY?.replaceAll('\\n', '\n'),
      keysReload: Math.max(1, duration(raw, 'JWT_KEYS_RELOAD')),
      issuer: raw.JWT_ISSUER,
      audience: raw.JWT_AUDIENCE,
      jwksMaxAge,
      accessTtl,
      refreshTtl,
      sessionMaxAge,
      clockTolerance,
      verifyCacheSize: raw.JWT_VERIFY_CACHE,
      resetTtl,
      verifyTtl,
      mfaTtl: mfaTokenTtl
    },
    mail: {
      smtpUrl: raw.SMTP_URL === '' ? undefined : raw.SMTP_URL,
      from: raw.MAIL_FROM,
      publicUrl: raw.PUBLIC_URL.replace(/\/+$/, '')
    },
    requireVerifiedEmail: raw.REQUIRE_VERIFIED_EMAIL === 'true',
    sessions: { reuseGrace, maxPerUser: raw.SESSIONS_PER_USER_MAX },
    password: {
      minLength: raw.PASSWORD_MIN_LENGTH,
      argon2: { memoryCost: raw.ARGON2_MEMORY_KIB, timeCost: raw.ARGON2_ITERATIONS, parallelism: raw.ARGON2_PARALLELISM }
    },
    mfa: { encryptionKey: encryptionKey ?? undefined },
    rateLimit: raw.RATE_LIMIT === 'on',
    rateLimits: {
      loginIp: rate(raw, 'RATE_LIMIT_LOGIN_IP'),
      loginAccount: rate(raw, 'RATE_LIMIT_LOGIN_ACCOUNT'),
      registerIp: rate(raw, 'RATE_LIMIT_REGISTER_IP'),
      refreshIp: rate(raw, 'RATE_LIMIT_REFRESH_IP'),
      mailIp: rate(raw, 'RATE_LIMIT_MAIL_IP'),
      mailAddress: rate(raw, 'RATE_LIMIT_MAIL_ADDRESS'),
      passwordCheckIp: rate(raw, 'RATE_LIMIT_PASSWORD_CHECK_IP'),
      passwordCheckAccount: rate(raw, 'RATE_LIMIT_PASSWORD_CHECK_ACCOUNT'),
      mfaAccount: rate(raw, 'RATE_LIMIT_MFA_ACCOUNT'),
      mfaToken: rate(raw, 'RATE_LIMIT_MFA_TOKEN')
    },
    redisUrl: raw.REDIS_URL === '' ? undefined : raw.REDIS_URL,
    revocation: { mode: raw.REVOCATION_MODE, cacheSize: raw.REVOCATION_CACHE_SIZE, cacheTtl: revocationCacheTtl },
    dpop: { mode: raw.DPOP, maxAge: dpopMaxAge, nonce: raw.DPOP_NONCE === 'on', nonceSecret, replayCache: raw.DPOP_REPLAY_CACHE },
    externalUrl,
    corsOrigins: raw.CORS_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o !== ''),
    trustProxy,
    logLevel: raw.LOG_LEVEL,
    webConcurrency: raw.WEB_CONCURRENCY,
    metrics: { port: metricsPort, host: raw.METRICS_HOST },
    securityEventsRetention
  }
}

/** The variables of ./.env, when it exists (Node's own parser, the dotenv format). */
function dotenvFile (): Record<string, string> {
  try {
    return parseEnv(readFileSync('.env', 'utf8')) as Record<string, string>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
}

/** For a setting that is one of a few words, the words (the generic message would say only "Expected union value"). */
function choices (schema: TSchema): string | undefined {
  const words: unknown[] = Array.isArray(schema.anyOf) ? schema.anyOf.map((s: TSchema) => s.const) : []
  return words.length > 0 && words.every((w) => typeof w === 'string') ? `must be one of ${words.join(', ')}` : undefined
}

/**
 * The schema's variables from `env` (and ./.env underneath: the environment wins), converted from text and with
 * defaults filled in, or every schema error at once, each naming its variable. TypeBox's interpreter, not a compiled
 * validator: this runs once per start, and compiling (ajv, as env-schema did) cost a cold start about 100 ms.
 */
export function rawConfig (env: Record<string, string | undefined>, options: { dotenv?: boolean } = {}): RawConfig {
  const known = (source: Record<string, string | undefined>): Array<[string, string]> =>
    Object.entries(source).filter((e): e is [string, string] => e[0] in ConfigSchema.properties && e[1] !== undefined)
  const given = Object.fromEntries([...(options.dotenv === true ? known(dotenvFile()) : []), ...known(env)])
  const raw = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, given))
  if (Value.Check(ConfigSchema, raw)) return raw
  const problems = [...Value.Errors(ConfigSchema, raw)].map((e) => `${e.path.slice(1)}: ${choices(e.schema) ?? e.message}`)
  throw new ConfigError(`invalid configuration: ${[...new Set(problems)].join(', ')}`)
}

/** Validate the environment. `dotenv` also reads ./.env (never overriding the environment); tests pass `env` only. */
export function loadConfig (env: Record<string, string | undefined> = process.env, options: { dotenv?: boolean } = {}): Config {
  return configFromRaw(rawConfig(env, options))
}
