// REVOCATION_MODE=hybrid: checks access tokens against the cache, records revocations, and tells the other instances.
import type { Clock } from '../clock'
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
  /** Redis pub/sub when REDIS_URL is set; without it other instances learn within the TTL. */
  bus?: RevocationBus
  log: Log
  /** Tests shorten these; see RevocationCache. */
  lookupTimeoutMs?: number
  outageBackoffMs?: number
}

export class Revocations {
  private readonly cache: RevocationCache

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

  /**
   * A session ended in the store (logout, reuse detected, signed out from another device): its access tokens are
   * refused at once here, and elsewhere as above.
   */
  sessionEnded (sid: string): void {
    this.cache.noteSession(sid)
    this.options.bus?.publish({ kind: 'session', sid })
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
  const revocations = new Revocations({
    store: deps.store,
    clock: deps.clock,
    cacheSize: config.revocation.cacheSize,
    cacheTtl: config.revocation.cacheTtl,
    log: deps.log,
    ...(bus !== undefined ? { bus } : {})
  })
  await revocations.start()
  return revocations
}
