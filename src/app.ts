// buildApp(config, deps): the whole service, plugins in order; only server.ts listens.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Config } from './config'
import { createRedisClient } from './lib/redis'
import { loadPrometheusMetrics, noMetrics, type Metrics } from './metrics/metrics'
import authPlugin from './plugins/auth'
import drain from './plugins/drain'
import cors from './plugins/external/cors'
import openApi from './plugins/external/openapi'
import rateLimit from './plugins/external/rate-limit'
import securityHeaders from './plugins/external/security-headers'
import metricsPlugin from './plugins/metrics'
import problemsPlugin from './plugins/problems'
import authRoutes from './routes/auth'
import mfaVerifyRoutes from './routes/auth/mfa'
import meRoutes from './routes/me'
import metaRoutes from './routes/meta'
import recoveryRoutes from './routes/recovery'
import usersRoutes from './routes/users'
import { AuthResultSchema } from './schemas/auth'
import { MfaChallengeSchema } from './schemas/mfa'
import { ProblemSchema } from './schemas/problem'
import { AcceptedSchema } from './schemas/recovery'
import { SecurityEventSchema } from './schemas/security-events'
import { SessionSchema } from './schemas/sessions'
import { UserSchema } from './schemas/user'
import { REALM, serverOptions, type ServerOverrides } from './server-options'
import { createServices, type ServiceOverrides } from './services/create-services'
import { MemoryReplayCache, RedisReplayCache, type ReplayCache } from './tokens/dpop-replay'

/** Logger and HTTP timeouts (ServerOverrides), and the parts tests replace: clock, store, keys, hasher, mailer, revocation bus. */
export interface AppDeps extends ServerOverrides, ServiceOverrides {}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, deps)).withTypeProvider<TypeBoxTypeProvider>()
  // JSON only: text/plain would otherwise be accepted by Fastify's default parsers.
  app.removeContentTypeParser('text/plain')
  for (const schema of [ProblemSchema, UserSchema, AuthResultSchema, MfaChallengeSchema, SessionSchema, SecurityEventSchema, AcceptedSchema]) app.addSchema(schema)

  // METRICS_PORT unset: noMetrics, and no hook that only feeds metrics is installed (nothing is collected); prom-client
  // is not even loaded (metrics.ts).
  const metrics: Metrics = deps.metrics ??
    (config.metrics.port !== undefined ? new (loadPrometheusMetrics().PrometheusMetrics)() : noMetrics)
  const services = await createServices(config, { ...deps, metrics, log: app.log })
  app.addHook('onClose', async () => { await services.close() })
  const { clock, keys, revocations, accounts, admin, recovery, sessions, mfa, events } = services

  await app.register(metricsPlugin, { metrics })
  await app.register(problemsPlugin, { realm: REALM })
  await app.register(drain)
  await app.register(securityHeaders)
  await app.register(cors, { origins: config.corsOrigins })
  if (config.rateLimit) await app.register(rateLimit, { rules: config.rateLimits, redisUrl: config.redisUrl, metrics })
  await app.register(openApi, { host: config.host, port: config.port })

  await app.register(authPlugin, {
    dpop: {
      mode: config.dpop.mode,
      maxAge: config.dpop.maxAge,
      nonce: config.dpop.nonce,
      nonceSecret: config.dpop.nonceSecret,
      replays: dpopReplayCache(app, config),
      externalUrl: config.externalUrl
    },
    ...(revocations !== undefined ? { revocation: revocations } : {}),
    keyRing: () => keys.ring(),
    clock,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl,
    refreshTtl: config.jwt.refreshTtl,
    resetTtl: config.jwt.resetTtl,
    verifyTtl: config.jwt.verifyTtl,
    mfaTtl: config.jwt.mfaTtl,
    clockTolerance: config.jwt.clockTolerance,
    verifyCacheSize: config.jwt.verifyCacheSize,
    metrics
  })

  await app.register(authRoutes, { prefix: '/v1/auth', accounts, sessions, metrics })
  await app.register(recoveryRoutes, { prefix: '/v1/auth', accounts, recovery })
  await app.register(mfaVerifyRoutes, { prefix: '/v1/auth', mfa })
  await app.register(meRoutes, { prefix: '/v1/me', accounts, sessions, mfa, events })
  await app.register(usersRoutes, { prefix: '/v1/users', admin })
  await app.register(metaRoutes, { keys, ping: () => services.store.ping(), jwksMaxAge: config.jwt.jwksMaxAge })

  return app
}

/** Per instance, and shared by every instance through Redis when REDIS_URL is set. */
function dpopReplayCache (app: FastifyInstance, config: Config): ReplayCache {
  const local = new MemoryReplayCache(config.dpop.replayCache)
  if (config.redisUrl === undefined) return local
  const redis = createRedisClient(config.redisUrl, app.log, {
    whileDown: 'DPoP proofs are checked for replay on this instance only', whenBack: 'DPoP replays are refused on every instance again'
  })
  app.addHook('onClose', async () => { redis.close() })
  return new RedisReplayCache(local, redis)
}
