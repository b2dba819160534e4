// REVOCATION_MODE=hybrid: checks access tokens against the cache, records revocations, and tells the other instances.
import { nowSeconds, type Clock } from '../clock'
import type { Config } from '../config'
import type { UserStore } from '../store/user-store'
import { createRedisBus, revocationChannel, type RevocationBus, type RevocationEvent } from './revocation-bus'
import { RevocationCache, type RevocationCacheStats } from './revocation-cache'

interface Log { warn (obj: object, msg: string): void, info (msg: string): void }

export interface RevocationsOptions {
  store: UserStore
  clock: Clock
  /** REVOCATION_CACHE_SIZE: entries of each kind. */
  cacheSize: number
  /** REVOCATION_CACHE_TTL, seconds. */
  cacheTtl: number
  /**
   * Seconds from now after which no token of a session logged out now can still be accepted: the refresh
   * (or access) lifetime plus CLOCK_TOLERANCE. An ended session's row is kept that long.
   */
  sessionLifetime: number
  /** Redis pub/sub when REDIS_URL is set; without it other instances learn within the TTL. */
  bus?: RevocationBus
  log: Log
  /** Tests shorten these; see RevocationCache. */
  lookupTimeoutMs?: number
  outageBackoffMs?: number
}

/** Sessions past their lifetime are deleted on a logout, at most this often per instance. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000
/** Rows deleted per statement, so a large backlog never holds locks for long. */
const PURGE_BATCH = 1000

export class Revocations {
  private readonly cache: RevocationCache
  private lastPurge = Number.NEGATIVE_INFINITY

  constructor (private readonly options: RevocationsOptions) {
    const { store, log } = options
    this.cache = new RevocationCache({
      load: (userId, sid) => store.revocationState(userId, sid),
      clock: options.clock,
      maxEntries: options.cacheSize,
      ttlMs: options.cacheTtl * 1000,
      lookupTimeoutMs: options.lookupTimeoutMs,
      outageBackoffMs: options.outageBackoffMs,
      onOutage: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) },
        'revocation lookups failing: access tokens are checked against the last known state, or accepted as in stateless mode, until the store answers'),
      onRecovery: () => log.info('revocation lookups work again')
    })
  }

  /** Listen for other instances' revocations (resolves at once without Redis). */
  async start (): Promise<void> {
    await this.options.bus?.subscribe((event) => this.hear(event))
  }

  /** Whether an access token is revoked (see RevocationCache.isRevoked): the hot path of hybrid mode. */
  isRevoked (userId: string, sid: string, ver: number): boolean | Promise<boolean> {
    return this.cache.isRevoked(userId, sid, ver)
  }

  /**
   * A user's token version was bumped (`version`) or the user deleted (null) in the store. This instance
   * refuses older tokens from now on; the others when the message reaches them, or within the TTL.
   */
  userChanged (userId: string, version: number | null): void {
    this.cache.noteUser(userId, version)
    this.options.bus?.publish({ kind: 'user', userId, version })
  }

  /** Log one session out: its access and refresh tokens stop at once here, and elsewhere as above. */
  async revokeSession (userId: string, sid: string): Promise<void> {
    const { store, clock } = this.options
    // A sid minted before sessions had rows has none: record it ended, so it stays refused until purged.
    if (!await store.endSession(sid, 'logout', { userId })) {
      const expiresAt = new Date((nowSeconds(clock) + this.options.sessionLifetime) * 1000)
      await store.recordEndedSession({ id: sid, userId, expiresAt, reason: 'logout' })
    }
    this.cache.noteSession(sid)
    this.options.bus?.publish({ kind: 'session', sid })
    this.purgeNowAndThen()
  }

  stats (): RevocationCacheStats {
    return this.cache.stats()
  }

  /** Publishes still on their way to the other instances go out first. */
  async close (): Promise<void> {
    await this.options.bus?.close()
  }

  private hear (event: RevocationEvent): void {
    if (event.kind === 'user') this.cache.noteUser(event.userId, event.version)
    else this.cache.noteSession(event.sid)
  }

  /**
   * Opportunistic: a failed purge is retried at a later logout; nothing waits for it. Only rows that ended or
   * expired a session lifetime ago go: no token of theirs can still be valid, so forgetting them revives nothing.
   */
  private purgeNowAndThen (): void {
    const now = this.options.clock.now()
    if (now - this.lastPurge < PURGE_INTERVAL_MS) return
    this.lastPurge = now
    const before = new Date(now - this.options.sessionLifetime * 1000)
    const purge = async (): Promise<void> => {
      let deleted: number
      do deleted = await this.options.store.purgeSessions(before, PURGE_BATCH)
      while (deleted === PURGE_BATCH)
    }
    purge().catch((err: unknown) => {
      this.options.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not purge past sessions; will retry')
      this.lastPurge = Number.NEGATIVE_INFINITY
    })
  }
}

/**
 * Hybrid mode's revocations from the configuration, subscribed and ready; undefined in stateless mode, where
 * nothing of this module runs. `bus` replaces the Redis one that REDIS_URL would give (tests).
 */
export async function createRevocations (
  config: Config, deps: { store: UserStore, clock: Clock, log: Log, bus?: RevocationBus }
): Promise<Revocations | undefined> {
  if (config.revocation.mode !== 'hybrid') return undefined
  const bus = deps.bus ?? (config.redisUrl === undefined ? undefined : createRedisBus(config.redisUrl, revocationChannel(config.jwt.issuer), deps.log))
  const { jwt } = config
  const revocations = new Revocations({
    store: deps.store,
    clock: deps.clock,
    cacheSize: config.revocation.cacheSize,
    cacheTtl: config.revocation.cacheTtl,
    // A refresh token issued before now expires by now + REFRESH_TOKEN_TTL, and never past auth_time + SESSION_MAX_AGE.
    sessionLifetime: Math.max(Math.min(jwt.refreshTtl, jwt.sessionMaxAge), jwt.accessTtl) + jwt.clockTolerance,
    log: deps.log,
    ...(bus !== undefined ? { bus } : {})
  })
  await revocations.start()
  return revocations
}
