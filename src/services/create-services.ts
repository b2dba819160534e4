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
import { createStore } from '../store/create-store'
import { OutageLog, watchOutages } from '../store/outage-log'
import type { UserStore } from '../store/user-store'
import { LinkTokenIssuer } from '../tokens/link-tokens'
import { longestTokenLifetime, TokenIssuer, tokenSettings } from '../tokens/token-issuer'
import { AccountService } from './account-service'
import { AdminService } from './admin-service'
import { RecoveryService } from './recovery-service'
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
    // Every part below reaches the store through this view, so an outage is logged once, however many calls it refuses.
    const store = watchOutages(deps.store ?? createStore(config.databaseUrl, clock, log), new OutageLog(log, clock))
    closers.push(() => store.close())
    await store.migrate()

    const hasher = deps.hasher ?? new PasswordHasher(config.password.argon2)
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
    const sessions = new SessionService({
      store,
      issuer: new TokenIssuer(() => keys.ring(), tokenSettings(config.jwt, revocations !== undefined), clock),
      clock,
      sessionMaxAge: config.jwt.sessionMaxAge,
      reuseGrace: config.sessions.reuseGrace,
      maxPerUser: config.sessions.maxPerUser,
      tokenLifetime: longestTokenLifetime(config.jwt),
      log,
      ...(revocations !== undefined ? { revocations } : {})
    })
    const recovery = new RecoveryService({
      store, hasher, links, outbox, publicUrl: config.mail.publicUrl, passwordMinLength: config.password.minLength, revocations, sessions
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
      verification: recovery
    })
    const admin = new AdminService({ store, hasher, passwordMinLength: config.password.minLength, revocations, sessions })
    return { clock, store, keys, revocations, accounts, admin, recovery, sessions, close }
  } catch (err) {
    await close()
    throw err
  }
}
