// buildApp(config, deps): the whole service, plugins in order; only server.ts listens.
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { systemClock, type Clock } from './clock'
import type { Config } from './config'
import { createKeyProvider, type KeyProvider } from './keys/key-provider'
import { PasswordHasher } from './lib/password-hasher'
import { preloadCommonPasswords } from './lib/password-policy'
import { wellFormedInput } from './lib/well-formed-input'
import { createMailer, type Mailer } from './mail/mailer'
import { Outbox } from './mail/outbox'
import authPlugin from './plugins/auth'
import cors from './plugins/external/cors'
import openApi from './plugins/external/openapi'
import rateLimit from './plugins/external/rate-limit'
import securityHeaders from './plugins/external/security-headers'
import problemsPlugin from './plugins/problems'
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
import { UserSchema } from './schemas/user'
import { REALM, serverOptions, type ServerOverrides } from './server-options'
import { AccountService } from './services/account-service'
import { RecoveryService } from './services/recovery-service'
import { createStore } from './store/create-store'
import type { UserStore } from './store/user-store'
import { LinkTokenIssuer } from './tokens/link-tokens'
import { TokenIssuer, tokenSettings } from './tokens/token-issuer'

/** Logger and HTTP timeouts (ServerOverrides), and the services tests replace. */
export interface AppDeps extends ServerOverrides {
  clock?: Clock
  store?: UserStore
  keys?: KeyProvider
  hasher?: PasswordHasher
  /** Where reset and verification mail goes; default from SMTP_URL (or the log without it). */
  mailer?: Mailer
  /** Hybrid mode's channel between instances; default Redis from REDIS_URL (or none without it). */
  revocationBus?: RevocationBus
}

/** On close, mail still in flight gets this long to go out (inside close-with-grace's 10 s). */
const MAIL_DRAIN_MS = 5000

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const clock = deps.clock ?? systemClock
  const app = Fastify(serverOptions(config, deps)).withTypeProvider<TypeBoxTypeProvider>()
  // TypeBox checks bodies strictly (no coercion: ["pw"] is not a string); query and params are converted.
  // Every string of every part must be well-formed Unicode first (one check for all routes and fields).
  app.setValidatorCompiler(wellFormedInput(TypeBoxValidatorCompiler))
  // JSON only: text/plain would otherwise be accepted by Fastify's default parsers.
  app.removeContentTypeParser('text/plain')
  for (const schema of [ProblemSchema, UserSchema, AuthResultSchema, AcceptedSchema]) app.addSchema(schema)

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

  // Undefined unless REVOCATION_MODE=hybrid: stateless mode builds nothing of it.
  const revocations = await createRevocations(config, { store, clock, log: app.log, bus: deps.revocationBus })
  if (revocations !== undefined) app.addHook('onClose', async () => { revocations.close() })

  const issuer = new TokenIssuer(() => keys.ring(), tokenSettings(config.jwt, revocations !== undefined), clock)
  const accounts = new AccountService({
    revocations,
    store,
    hasher,
    issuer,
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
    store, hasher, links, outbox, publicUrl: config.mail.publicUrl, passwordMinLength: config.password.minLength, revocations
  })

  await app.register(problemsPlugin, { realm: REALM })
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
    clockTolerance: config.jwt.clockTolerance,
    verifyCacheSize: config.jwt.verifyCacheSize
  })

  await app.register(authRoutes, { prefix: '/v1/auth', accounts, recovery })
  await app.register(recoveryRoutes, { prefix: '/v1/auth', accounts, recovery })
  await app.register(meRoutes, { prefix: '/v1/me', accounts })
  await app.register(usersRoutes, { prefix: '/v1/users', accounts })
  await app.register(metaRoutes, { keys, store, jwksMaxAge: config.jwt.jwksMaxAge })

  return app
}
