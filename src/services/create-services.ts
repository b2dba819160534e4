// createServices(config, deps): the store, keys, hasher, token issuers, revocations, outbox and the services over
// them, built once. The HTTP app and the command line both run on this, so an action does the same from either.
import { systemClock, type Clock } from '../clock'
import type { Config } from '../config'
import { createKeyProvider, type KeyProvider } from '../keys/key-provider'
import { PasswordHasher } from '../lib/password-hasher'
import { createMailer, type Mailer } from '../mail/mailer'
import { Outbox } from '../mail/outbox'
import type { RevocationBus } from '../revocation/revocation-bus'
import { createRevocations, type Revocations } from '../revocation/revocations'
import { loadOrCreateMfaKey } from '../mfa/mfa-key'
import { SecretBox } from '../mfa/secret-box'
import { countingStoreErrors } from '../metrics/counting-store'
import { noMetrics, type Metrics } from '../metrics/metrics'
import { createStore } from '../store/create-store'
import { OutageLog, watchOutages } from '../store/outage-log'
import type { UserStore } from '../store/user-store'
import { LinkTokenIssuer } from '../tokens/link-tokens'
import { MfaTokenIssuer } from '../tokens/mfa-tokens'
import { longestTokenLifetime, TokenIssuer, tokenSettings } from '../tokens/token-issuer'
import { AccountService } from './account-service'
import { AdminService } from './admin-service'
import { MfaService } from './mfa-service'
import { RecoveryService } from './recovery-service'
import { SecurityEvents } from './security-events'
import { SessionService } from './session-service'

/** What every part logs through (a pino logger fits). */
export interface ServiceLog {
  debug (obj: object, msg: string): void
  info (obj: object | string, msg?: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** Parts a caller (a test, the command line) supplies instead of the ones the configuration describes. */
export interface ServiceOverrides {
  clock?: Clock
  store?: UserStore
  keys?: KeyProvider
  hasher?: PasswordHasher
  /** Where reset and verification mail goes; default from SMTP_URL (or the log without it). */
  mailer?: Mailer
  /** Hybrid mode's channel between instances; default Redis from REDIS_URL (or none without it). */
  revocationBus?: RevocationBus
  /** What is counted; default noMetrics (nothing). buildApp passes Prometheus metrics when METRICS_PORT is set. */
  metrics?: Metrics
}

export interface Services {
  clock: Clock
  store: UserStore
  keys: KeyProvider
  /** Undefined unless REVOCATION_MODE=hybrid. */
  revocations: Revocations | undefined
  accounts: AccountService
  admin: AdminService
  recovery: RecoveryService
  sessions: SessionService
  mfa: MfaService
  events: SecurityEvents
  /** Mail in flight gets a moment to go out and revocations in flight reach the bus; then everything is closed. */
  close (): Promise<void>
}

/** On close, mail still in flight gets this long to go out (inside close-with-grace's 10 s). */
const MAIL_DRAIN_MS = 5000

export async function createServices (config: Config, deps: ServiceOverrides & { log: ServiceLog }): Promise<Services> {
  const { log } = deps
  const clock = deps.clock ?? systemClock
  const closers: Array<() => Promise<void> | void> = []
  const close = async (): Promise<void> => {
    for (const closer of [...closers].reverse()) await closer()
  }
  try {
    const metrics = deps.metrics ?? noMetrics
    // Every part below reaches the store through this view, so an outage is logged once, however many calls it refuses.
    const watched = watchOutages(deps.store ?? createStore(config.databaseUrl, clock, log), new OutageLog(log, clock))
    closers.push(() => watched.close())
    const store = metrics.enabled ? countingStoreErrors(watched, metrics) : watched
    await store.migrate()

    const hasher = deps.hasher ?? new PasswordHasher(config.password.argon2)
    if (metrics.enabled) hasher.timeWith((operation, seconds) => { metrics.passwordHash(operation, seconds) })
    // After an ARGON2_* change, accounts keep their old hashes until they next log in: a failed login pays for
    // every parameter set stored, or an unknown email would cost more (or less) than a dormant account.
    hasher.learnParameters(await store.passwordHashParameters())

    const keys = deps.keys ?? createKeyProvider(config.jwt, clock, log)
    closers.push(() => { keys.close() })

    const revocations = await createRevocations(config, { store, clock, log, bus: deps.revocationBus })
    if (revocations !== undefined) closers.push(() => revocations.close())

    const outbox = new Outbox(deps.mailer ?? createMailer(config.mail, log), log)
    closers.push(() => outbox.close(MAIL_DRAIN_MS))
    if (outbox.transport === 'log') log.info('no SMTP_URL: reset and verification mail is written to this log, links included')

    const links = new LinkTokenIssuer(() => keys.ring(), {
      issuer: config.jwt.issuer, resetTtl: config.jwt.resetTtl, verifyTtl: config.jwt.verifyTtl
    }, clock)
    const events = new SecurityEvents({ store, clock, retention: config.securityEventsRetention, log })
    const sessions = new SessionService({
      store,
      issuer: new TokenIssuer(() => keys.ring(), tokenSettings(config.jwt, revocations !== undefined), clock),
      clock,
      sessionMaxAge: config.jwt.sessionMaxAge,
      reuseGrace: config.sessions.reuseGrace,
      maxPerUser: config.sessions.maxPerUser,
      tokenLifetime: longestTokenLifetime(config.jwt),
      log,
      metrics,
      events,
      ...(revocations !== undefined ? { revocations } : {})
    })
    // MFA_ENCRYPTION_KEY, else mfa.key beside the signing keys: created on first start when those live in JWT_KEYS_DIR,
    // else (a key from the environment, HS256, keys a test supplies) at the first enrolment, so a read-only disk
    // without two-factor sign-in keeps starting.
    let box: SecretBox | undefined
    const mfaBox = (): SecretBox => (box ??= new SecretBox(config.mfa.encryptionKey ?? loadOrCreateMfaKey(config.jwt.keysDir, log)))
    if (deps.keys === undefined && config.jwt.privateKeyPem === undefined && config.jwt.alg !== 'HS256') mfaBox()
    const mfa = new MfaService({
      store,
      hasher,
      sessions,
      clock,
      box: mfaBox,
      tokens: new MfaTokenIssuer(() => keys.ring(), { issuer: config.jwt.issuer, mfaTtl: config.jwt.mfaTtl }, clock),
      issuer: config.jwt.issuer,
      events
    })
    const recovery = new RecoveryService({
      store, hasher, links, outbox, publicUrl: config.mail.publicUrl, passwordMinLength: config.password.minLength, revocations, sessions, events
    })
    const accounts = new AccountService({
      store,
      hasher,
      sessions,
      clock,
      passwordMinLength: config.password.minLength,
      sessionMaxAge: config.jwt.sessionMaxAge,
      requireVerifiedEmail: config.requireVerifiedEmail,
      revocations,
      verification: recovery,
      mfa,
      events
    })
    const admin = new AdminService({ store, hasher, passwordMinLength: config.password.minLength, revocations, sessions, mfa, events })
    return { clock, store, keys, revocations, accounts, admin, recovery, sessions, mfa, events, close }
  } catch (err) {
    await close()
    throw err
  }
}
