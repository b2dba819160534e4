// buildApp(config, deps): the whole service, plugins in order; only server.ts listens.
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Config } from './config'
import { wellFormedInput } from './lib/well-formed-input'
import authPlugin from './plugins/auth'
import drain from './plugins/drain'
import cors from './plugins/external/cors'
import openApi from './plugins/external/openapi'
import rateLimit from './plugins/external/rate-limit'
import securityHeaders from './plugins/external/security-headers'
import problemsPlugin from './plugins/problems'
import authRoutes from './routes/auth'
import meRoutes from './routes/me'
import metaRoutes from './routes/meta'
import recoveryRoutes from './routes/recovery'
import usersRoutes from './routes/users'
import { AuthResultSchema } from './schemas/auth'
import { ProblemSchema } from './schemas/problem'
import { AcceptedSchema } from './schemas/recovery'
import { SessionSchema } from './schemas/sessions'
import { UserSchema } from './schemas/user'
import { REALM, serverOptions, type ServerOverrides } from './server-options'
import { createServices, type ServiceOverrides } from './services/create-services'

/** Logger and HTTP timeouts (ServerOverrides), and the parts tests replace: clock, store, keys, hasher, mailer, revocation bus. */
export interface AppDeps extends ServerOverrides, ServiceOverrides {}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, deps)).withTypeProvider<TypeBoxTypeProvider>()
  // TypeBox checks bodies strictly (no coercion: ["pw"] is not a string); query and params are converted.
  // Every string of every part must be well-formed Unicode first (one check for all routes and fields).
  app.setValidatorCompiler(wellFormedInput(TypeBoxValidatorCompiler))
  // JSON only: text/plain would otherwise be accepted by Fastify's default parsers.
  app.removeContentTypeParser('text/plain')
  for (const schema of [ProblemSchema, UserSchema, AuthResultSchema, SessionSchema, AcceptedSchema]) app.addSchema(schema)

  const services = await createServices(config, { ...deps, log: app.log })
  app.addHook('onClose', async () => { await services.close() })
  const { clock, keys, revocations, accounts, admin, recovery, sessions } = services

  await app.register(problemsPlugin, { realm: REALM })
  await app.register(drain)
  await app.register(securityHeaders)
  await app.register(cors, { origins: config.corsOrigins })
  if (config.rateLimit) await app.register(rateLimit, { rules: config.rateLimits, redisUrl: config.redisUrl })
  await app.register(openApi, { host: config.host, port: config.port })

  await app.register(authPlugin, {
    ...(revocations !== undefined ? { revocation: revocations } : {}),
    keyRing: () => keys.ring(),
    clock,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl,
    refreshTtl: config.jwt.refreshTtl,
    resetTtl: config.jwt.resetTtl,
    verifyTtl: config.jwt.verifyTtl,
    clockTolerance: config.jwt.clockTolerance,
    verifyCacheSize: config.jwt.verifyCacheSize
  })

  await app.register(authRoutes, { prefix: '/v1/auth', accounts, sessions })
  await app.register(recoveryRoutes, { prefix: '/v1/auth', accounts, recovery })
  await app.register(meRoutes, { prefix: '/v1/me', accounts, sessions })
  await app.register(usersRoutes, { prefix: '/v1/users', admin })
  await app.register(metaRoutes, { keys, ping: () => services.store.ping(), jwksMaxAge: config.jwt.jwksMaxAge })

  return app
}
