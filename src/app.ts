// buildApp(config, deps): the whole service, plugins in order; only server.ts listens.
import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { systemClock, type Clock } from './clock'
import type { Config } from './config'
import { createKeyProvider, type KeyProvider } from './keys/key-provider'
import { PasswordHasher } from './lib/password-hasher'
import { preloadCommonPasswords } from './lib/password-policy'
import authPlugin from './plugins/auth'
import problemsPlugin from './plugins/problems'
import rateLimitPlugin, { createRedis } from './plugins/rate-limit'
import authRoutes from './routes/auth'
import meRoutes from './routes/me'
import metaRoutes from './routes/meta'
import usersRoutes from './routes/users'
import { AuthResultSchema } from './schemas/auth'
import { ProblemSchema } from './schemas/problem'
import { UserSchema } from './schemas/user'
import { AccountService } from './services/account-service'
import { createStore } from './store/create-store'
import type { UserStore } from './store/user-store'
import { TokenIssuer } from './tokens/token-issuer'

export interface AppDeps {
  clock?: Clock
  store?: UserStore
  keys?: KeyProvider
  hasher?: PasswordHasher
  /** Fastify logger option; tests pass a stream to capture logs. */
  logger?: FastifyServerOptions['logger']
}

export const REALM = 'tessera'
/** Auth payloads are a few hundred bytes; 16 KiB leaves room and refuses floods early. */
export const BODY_LIMIT = 16 * 1024

/** Never log credentials: the Authorization header, passwords, tokens (see the no-leak test). */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
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
  const options: FastifyServerOptions = {
    logger: deps.logger ?? loggerOptions(config),
    bodyLimit: BODY_LIMIT,
    // Fastify accepts a hop count at run time; its types only list the other forms.
    trustProxy: config.trustProxy as FastifyServerOptions['trustProxy'],
    routerOptions: { maxParamLength: 128 }
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>()
  // TypeBox checks bodies strictly (no coercion: ["pw"] is not a string); query and params are converted.
  app.setValidatorCompiler(TypeBoxValidatorCompiler)

  const store = deps.store ?? createStore(config.databaseUrl, clock)
  app.addHook('onClose', async () => { await store.close() })
  await store.migrate()

  const keys = deps.keys ?? createKeyProvider(config.jwt, clock, app.log)
  app.addHook('onClose', async () => { keys.close() })

  const hasher = deps.hasher ?? new PasswordHasher(config.password.argon2)
  preloadCommonPasswords()

  // JSON only: text/plain would otherwise be accepted by Fastify's default parsers.
  app.removeContentTypeParser('text/plain')

  app.addSchema(ProblemSchema)
  app.addSchema(UserSchema)
  app.addSchema(AuthResultSchema)

  await app.register(problemsPlugin, { realm: REALM })
  await app.register(fastifyHelmet, {
    // A JSON API serves no HTML of its own except Swagger UI, whose assets need 'self'.
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-site' }
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
    if (redis !== undefined) app.addHook('onClose', async () => { redis.disconnect() })
    await app.register(rateLimitPlugin, { rules: config.rateLimits, ...(redis !== undefined ? { redis } : {}) })
  }
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera',
        version: '1.0.0',
        description: 'Stateless JWT authentication API. Errors are RFC 9457 problem+json; Bearer failures carry an RFC 6750 WWW-Authenticate challenge.'
      },
      servers: [{ url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}` }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [
        { name: 'auth', description: 'Registration, login and tokens' },
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

  await app.register(authPlugin, {
    keyRing: () => keys.ring(),
    clock,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl,
    refreshTtl: config.jwt.refreshTtl,
    clockTolerance: config.jwt.clockTolerance,
    verifyCacheSize: config.jwt.verifyCacheSize
  })

  const issuer = new TokenIssuer(() => keys.ring(), {
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl,
    refreshTtl: config.jwt.refreshTtl,
    sessionMaxAge: config.jwt.sessionMaxAge
  }, clock)
  const accounts = new AccountService({
    store, hasher, issuer, clock, passwordMinLength: config.password.minLength, sessionMaxAge: config.jwt.sessionMaxAge
  })

  await app.register(authRoutes, { prefix: '/v1/auth', accounts })
  await app.register(meRoutes, { prefix: '/v1/me', accounts })
  await app.register(usersRoutes, { prefix: '/v1/users', accounts })
  await app.register(metaRoutes, { keys, store, jwksMaxAge: config.jwt.jwksMaxAge })

  return app
}
