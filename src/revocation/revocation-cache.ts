// Hybrid mode's memory: per-user token versions and per-session ended flags, bounded, trusted for a TTL, one read per miss.
import type { Clock } from '../clock'
import type { RevocationState } from '../store/session-store'

/** A value and when it was learnt (clock milliseconds): from the store, or from a revocation made or heard of. */
interface Entry<V> { value: V, at: number }

/**
 * A Map that forgets its oldest insertion beyond `max` entries. Setting a key again moves it to the end,
 * and every entry is set again each time it is re-read (once per TTL while in use), so what is forgotten
 * first is what has not been used for longest: LRU enough, without touching the Map on a hit.
 */
class BoundedMap<V> {
  private readonly map = new Map<string, Entry<V>>()
  constructor (private readonly max: number) {}
  get (key: string): Entry<V> | undefined { return this.map.get(key) }
  set (key: string, entry: Entry<V>): void {
    this.map.delete(key)
    this.map.set(key, entry)
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  get size (): number { return this.map.size }
}

/** A user who no longer exists: every token version is older than this. */
const GONE = Number.POSITIVE_INFINITY

export interface RevocationCacheOptions {
  /** One store read for a (user, session) pair (UserStore.revocationState). */
  load: (userId: string, sid: string) => Promise<RevocationState>
  clock: Clock
  /** Entries of each kind (users, sessions): REVOCATION_CACHE_SIZE. */
  maxEntries: number
  /** How long an entry is trusted after it was learnt: REVOCATION_CACHE_TTL, in milliseconds. */
  ttlMs: number
  /** A read slower than this fails open for the requests waiting on it; its answer still fills the cache when it comes. */
  lookupTimeoutMs?: number
  /** After a failed or slow read, misses fail open at once for this long instead of queueing on a dead store. */
  outageBackoffMs?: number
  /** Called once when reads start failing, and once when they work again. */
  onOutage?: (err: unknown) => void
  onRecovery?: () => void
}

export interface RevocationCacheStats {
  /** Checks answered from fresh entries, without waiting. */
  hits: number
  /** Checks that waited for a read (their own or a concurrent one for the same pair). */
  misses: number
  /** Store reads started. */
  reads: number
  /** Reads that failed or timed out (their checks failed open). */
  failures: number
  users: number
  sessions: number
}

class LookupTimeout extends Error {
  readonly code = 'ERR_REVOCATION_LOOKUP_TIMEOUT'
}

const DEFAULT_LOOKUP_TIMEOUT_MS = 250
const DEFAULT_OUTAGE_BACKOFF_MS = 1000

/**
 * Both values only ever grow: a token version is bumped, never lowered, and a revoked session stays
 * revoked. So an old entry can fail to refuse a newly revoked token, but never refuses a good one; that
 * is why a stale entry is a safe answer while the store is down, and why news is merged with `max`/`or`.
 */
export class RevocationCache {
  private readonly users: BoundedMap<number>
  private readonly sessions: BoundedMap<boolean>
  /** Single flight: one read per (user, session) pair at a time, whatever the number of requests waiting on it. */
  private readonly inflight = new Map<string, Promise<void>>()
  private readonly lookupTimeoutMs: number
  private readonly outageBackoffMs: number
  private outageUntil = Number.NEGATIVE_INFINITY
  private failing = false
  private readonly counters = { hits: 0, misses: 0, reads: 0, failures: 0 }

  constructor (private readonly options: RevocationCacheOptions) {
    this.users = new BoundedMap(options.maxEntries)
    this.sessions = new BoundedMap(options.maxEntries)
    this.lookupTimeoutMs = options.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS
    this.outageBackoffMs = options.outageBackoffMs ?? DEFAULT_OUTAGE_BACKOFF_MS
  }

  /**
   * Whether a token of `userId`'s session `sid`, issued at token version `ver`, is revoked. Synchronous when
   * both entries are fresh (the common case: no promise, no store); otherwise a promise that never rejects.
   */
  isRevoked (userId: string, sid: string, ver: number): boolean | Promise<boolean> {
    const now = this.options.clock.now()
    const user = this.users.get(userId)
    const session = this.sessions.get(sid)
    if (user !== undefined && session !== undefined && now - user.at < this.options.ttlMs && now - session.at < this.options.ttlMs) {
      this.counters.hits++
      return ver < user.value || session.value
    }
    return this.miss(userId, sid, ver)
  }

  /** A user's version changed (`null`: the user is gone), here or on another instance: trusted from now. */
  noteUser (userId: string, version: number | null): void {
    const value = version ?? GONE
    const known = this.users.get(userId)
    this.users.set(userId, { value: known === undefined ? value : Math.max(known.value, value), at: this.options.clock.now() })
  }

  /** A session was revoked, here or on another instance. */
  noteSession (sid: string): void {
    this.sessions.set(sid, { value: true, at: this.options.clock.now() })
  }

  stats (): RevocationCacheStats {
    return { ...this.counters, users: this.users.size, sessions: this.sessions.size }
  }

  private async miss (userId: string, sid: string, ver: number): Promise<boolean> {
    this.counters.misses++
    const key = `${userId} ${sid}`
    let pending = this.inflight.get(key)
    if (pending === undefined) {
      pending = this.read(userId, sid).finally(() => this.inflight.delete(key))
      this.inflight.set(key, pending)
    }
    await pending
    // After a failed read the entries may be stale (still lower bounds: see the class comment) or absent:
    // an absent one fails open, which is what stateless mode would have done.
    const user = this.users.get(userId)
    const session = this.sessions.get(sid)
    return (user !== undefined && ver < user.value) || (session !== undefined && session.value)
  }

  /** Never rejects: a failure or a timeout leaves the entries as they were and opens the breaker. */
  private async read (userId: string, sid: string): Promise<void> {
    const { clock } = this.options
    const started = clock.now()
    if (started < this.outageUntil) return
    this.counters.reads++
    let timer: NodeJS.Timeout | undefined
    try {
      const loaded = this.options.load(userId, sid).then((state) => this.learn(userId, sid, state, started))
      await Promise.race([loaded, new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new LookupTimeout('revocation lookup timed out')), this.lookupTimeoutMs)
      })])
      if (this.failing) {
        this.failing = false
        this.options.onRecovery?.()
      }
    } catch (err) {
      this.counters.failures++
      this.outageUntil = clock.now() + this.outageBackoffMs
      if (!this.failing) {
        this.failing = true
        this.options.onOutage?.(err)
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** A read's answer. News that arrived while it was in flight is newer than the answer, so it is merged, not overwritten. */
  private learn (userId: string, sid: string, state: RevocationState, started: number): void {
    const at = this.options.clock.now()
    const version = state.tokenVersion ?? GONE
    const user = this.users.get(userId)
    this.users.set(userId, { value: user !== undefined && user.at >= started ? Math.max(user.value, version) : version, at })
    const session = this.sessions.get(sid)
    this.sessions.set(sid, { value: session !== undefined && session.at >= started ? session.value || state.sessionEnded : state.sessionEnded, at })
  }
}
