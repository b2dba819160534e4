// buildApp(config, deps): the whole service, plugins in order; only server.ts listens.
import fastifyCors from '@fastify/cors'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Server } from 'node:http'
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import packageJson from '../package.json'
import { systemClock, type Clock } from './clock'
import type { Config } from './config'
import { createKeyProvider, type KeyProvider } from './keys/key-provider'
import { PasswordHasher } from './lib/password-hasher'
import { preloadCommonPasswords } from './lib/password-policy'
import { wellFormedInput } from './lib/well-formed-input'
import { createMailer, type Mailer } from './mail/mailer'
import { Outbox } from './mail/outbox'
import authPlugin from './plugins/auth'
import securityHeaders from './plugins/security-headers'
import problemsPlugin, { clientErrorHandler, frameworkErrorHandler } from './plugins/problems'
import rateLimitPlugin, { createRedis, redisReady } from './plugins/rate-limit'
import authRoutes from './routes/auth'
import meRoutes from './routes/me'
import metaRoutes from './routes/meta'
import { createRevocations } from './revocation/revocations'
import type { RevocationBus } from './revocation/revocation-bus'
import recoveryRoutes from './routes/recovery'
import usersRoutes from './routes/users'
import { AuthResultSchema } from './schemas/auth'
import { ProblemSchema } from './schemas/problem'
import { AcceptedSchema } from './schemas/recovery'
import { SessionSchema } from './schemas/sessions'
import { UserSchema } from './schemas/user'
import { AccountService } from './services/account-service'
import { RecoveryService } from './services/recovery-service'
import { SessionService } from './services/session-service'
import { createStore } from './store/create-store'
import type { UserStore } from './store/user-store'
import { LinkTokenIssuer } from './tokens/link-tokens'
import { longestTokenLifetime, TokenIssuer, tokenSettings } from './tokens/token-issuer'

export interface AppDeps {
  clock?: Clock
  store?: UserStore
  keys?: KeyProvider
  hasher?: PasswordHasher
  /** Where reset and verification mail goes; default from SMTP_URL (or the log without it). */
  mailer?: Mailer
  /** Hybrid mode's channel between instances; default Redis from REDIS_URL (or none without it). */
  revocationBus?: RevocationBus
  /** Fastify logger option; tests pass a stream to capture logs. */
  logger?: FastifyServerOptions['logger']
  /** Default HTTP_TIMEOUTS; tests shorten them to see a timeout within a second. */
  httpTimeouts?: Partial<HttpTimeouts>
}

export const REALM = 'tessera'
/** Auth payloads are a few hundred bytes; 16 KiB leaves room and refuses floods early. */
export const BODY_LIMIT = 16 * 1024
/** On close, mail still in flight gets this long to go out (inside close-with-grace's 10 s). */
const MAIL_DRAIN_MS = 5000
/**
 * Node's default is 16 KiB. Tessera reads one credential header (a token is under 1 KiB, refused above
 * 4 KiB) and sets no cookies, so 8 KiB of headers is ample; bigger is refused by Node's parser (431)
 * before any allocation or hook of ours runs.
 */
export const MAX_HEADER_SIZE = 8 * 1024

/** Node's parser enforces these and answers 408 through clientErrorHandler (src/plugins/problems.ts). */
export interface HttpTimeouts {
  /** Headers alone, from the connection or the previous request (slowloris). */
  headersMs: number
  /** The whole request, headers and body: a body trickled a byte at a time is cut off here. */
  requestMs: number
  /** Socket inactivity while a request is handled; between requests Fastify's keepAliveTimeout applies. */
  idleMs: number
  /** How often Node looks for requests past the two limits above. */
  checkIntervalMs: number
}

/**
 * Fastify turns Node's request timeout off (0), so a client that sent its headers and then one body byte
 * every few seconds held a socket and a request open for as long as it liked (audit finding 5). A
 * Tessera body is at most BODY_LIMIT (16 KiB), which a 10 kbit/s link sends in 13 s: 30 s for the whole
 * request is generous, and headers (under MAX_HEADER_SIZE) get 10 s. Node checks every 30 s by default,
 * which would let a request outlive its limit by that much; once a second costs one walk of the
 * connection list. The idle limit is above any handler's time (argon2, a store call under its own timeouts),
 * so it only closes sockets whose peer vanished mid-request.
 */
export const HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, idleMs: 60_000, checkIntervalMs: 1000 }

/** Never log credentials: the Authorization header, passwords, tokens (see the no-leak test). */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'err.rawPacket',
  '*.password', '*.currentPassword', '*.newPassword', '*.refreshToken', '*.accessToken', '*.passwordHash'
]

export function loggerOptions (config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // The query string is dropped from logged URLs: a client may put a token there (we refuse it).
      req: (req: { method: string, url: string, ip?: string }) => ({ method: req.method, url: req.url.split('?')[0], ip: req.ip })
    }
  }
}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const clock = deps.clock ?? systemClock
  const timeouts = { ...HTTP_TIMEOUTS, ...deps.httpTimeouts }
  const options: FastifyHttpOptions<Server> = {
    logger: deps.logger ?? loggerOptions(config),
    http: {
      maxHeaderSize: MAX_HEADER_SIZE,
      headersTimeout: timeouts.headersMs,
      // Also here so Node's check at creation (headers timeout <= request timeout) sees ours; Fastify sets it again below.
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs
    },
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler(REALM),
    bodyLimit: BODY_LIMIT,
    trustProxy: config.trustProxy,
    routerOptions: { maxParamLength: 128 }
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>()
  // TypeBox checks bodies strictly (no coercion: ["pw"] is not a string); query and params are converted.
  // Every string of every part must be well-formed Unicode first (one check for all routes and fields).
  app.setValidatorCompiler(wellFormedInput(TypeBoxValidatorCompiler))

  const store = deps.store ?? createStore(config.databaseUrl, clock, app.log)
  app.addHook('onClose', async () => { await store.close() })
  await store.migrate()

  const keys = deps.keys ?? createKeyProvider(config.jwt, clock, app.log)
  app.addHook('onClose', async () => { keys.close() })

  const hasher = deps.hasher ?? new PasswordHasher(config.password.argon2)
  // After an ARGON2_* change, accounts keep their old hashes until they next log in: a failed login pays for
  // every parameter set stored, or an unknown email would cost more (or less) than a dormant account.
  hasher.learnParameters(await store.passwordHashParameters())
  preloadCommonPasswords()

  // JSON only: text/plain would otherwise be accepted by Fastify's default parsers.
  app.removeContentTypeParser('text/plain')

  app.addSchema(ProblemSchema)
  app.addSchema(UserSchema)
  app.addSchema(AuthResultSchema)
  app.addSchema(SessionSchema)
  app.addSchema(AcceptedSchema)

  await app.register(problemsPlugin, { realm: REALM })
  // OWASP REST Security cheat sheet: JSON answers get a CSP that allows nothing; headers that only
  // matter to HTML pages in old browsers are left out (each one is bytes on every response).
  const htmlOnly = { xDnsPrefetchControl: false, xDownloadOptions: false, xPermittedCrossDomainPolicies: false, xXssProtection: false, originAgentCluster: false } as const
  await app.register(securityHeaders, {
    api: {
      ...htmlOnly,
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginResourcePolicy: { policy: 'same-site' },
      xFrameOptions: { action: 'deny' }
    },
    docs: {
      prefix: '/docs',
      // Swagger UI's own HTML, scripts and styles are served from 'self'.
      options: {
        contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
        crossOriginResourcePolicy: { policy: 'same-site' }
      }
    }
  })
  await app.register(fastifyCors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'RateLimit', 'RateLimit-Policy'],
    maxAge: 600
  })
  if (config.rateLimit) {
    const redis = config.redisUrl === undefined ? undefined : createRedis(config.redisUrl, app.log)
    if (redis !== undefined) {
      app.addHook('onClose', async () => { redis.disconnect() })
      await redisReady(redis)
    }
    await app.register(rateLimitPlugin, { rules: config.rateLimits, ...(redis !== undefined ? { redis } : {}) })
  }
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera',
        version: packageJson.version,
        license: { name: packageJson.license, identifier: packageJson.license },
        description: 'Stateless JWT authentication API. Errors are RFC 9457 problem+json; Bearer failures carry an RFC 6750 WWW-Authenticate challenge.'
      },
      servers: [{ url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}` }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [
        { name: 'auth', description: 'Registration, login and tokens' },
        { name: 'recovery', description: 'Password reset and email verification by emailed links' },
        { name: 'me', description: 'The caller\'s own account' },
        { name: 'users', description: 'Administration (role admin)' },
        { name: 'keys', description: 'Public keys' },
        { name: 'health', description: 'Probes' }
      ]
    },
    // Routes declared as '/' under a prefix are documented without the trailing slash (/v1/me).
    transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  // Undefined unless REVOCATION_MODE=hybrid: stateless mode builds nothing of it.
  const revocations = await createRevocations(config, { store, clock, log: app.log, bus: deps.revocationBus })
  if (revocations !== undefined) app.addHook('onClose', async () => { revocations.close() })

  await app.register(authPlugin, {
    ...(revocations !== undefined ? { revocation: revocations } : {}),
    keyRing: () => keys.ring(),
    clock,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl,
    refreshTtl: config.jwt.refreshTtl,
    clockTolerance: config.jwt.clockTolerance,
    verifyCacheSize: config.jwt.verifyCacheSize
  })

  const issuer = new TokenIssuer(() => keys.ring(), tokenSettings(config.jwt, revocations !== undefined), clock)
  const sessions = new SessionService({
    store,
    issuer,
    clock,
    sessionMaxAge: config.jwt.sessionMaxAge,
    reuseGrace: config.sessions.reuseGrace,
    maxPerUser: config.sessions.maxPerUser,
    tokenLifetime: longestTokenLifetime(config.jwt),
    log: app.log,
    ...(revocations !== undefined ? { revocations } : {})
  })
  const accounts = new AccountService({
    revocations,
    store,
    hasher,
    sessions,
    clock,
    passwordMinLength: config.password.minLength,
    sessionMaxAge: config.jwt.sessionMaxAge,
    requireVerifiedEmail: config.requireVerifiedEmail
  })

  const outbox = new Outbox(deps.mailer ?? createMailer(config.mail, app.log), app.log)
  app.addHook('onClose', async () => { await outbox.close(MAIL_DRAIN_MS) })
  if (outbox.transport === 'log') app.log.info('no SMTP_URL: reset and verification mail is written to this log, links included')
  const links = new LinkTokenIssuer(() => keys.ring(), {
    issuer: config.jwt.issuer, resetTtl: config.jwt.resetTtl, verifyTtl: config.jwt.verifyTtl
  }, clock)
  const recovery = new RecoveryService({
    store, hasher, links, outbox, publicUrl: config.mail.publicUrl, passwordMinLength: config.password.minLength, sessions, revocations
  })

  await app.register(authRoutes, { prefix: '/v1/auth', accounts, recovery, sessions })
  await app.register(recoveryRoutes, { prefix: '/v1/auth', accounts, recovery })
  await app.register(meRoutes, { prefix: '/v1/me', accounts, sessions })
  await app.register(usersRoutes, { prefix: '/v1/users', accounts, sessions })
  await app.register(metaRoutes, { keys, store, jwksMaxAge: config.jwt.jwksMaxAge })

  return app
}
