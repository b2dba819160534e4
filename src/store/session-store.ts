// The session half of the storage contract: one row per login, read at login, refresh and logout (never by the
// stateless access-token check), and by hybrid mode's revocation check on a cache miss.

/** Why a session ended. Stored as text, so a new reason needs no migration. */
export type SessionEndReason =
  | 'logout'
  | 'logout_others'
  | 'logout_all'
  | 'password_changed'
  | 'password_reset'
  | 'disabled'
  | 'deleted'
  | 'refresh_token_reused'
  | 'evicted'
  | 'admin'
  | 'mfa_enabled'
  | 'mfa_disabled'

/** Longest device name the store keeps (the column checks it); callers truncate before. */
export const DEVICE_NAME_MAX_LENGTH = 100

export interface SessionRecord {
  /** The token's `sid`: 16 base64url characters (SESSION_ID_PATTERN), minted by the caller. */
  id: string
  userId: string
  createdAt: Date
  /** Creation, then the last refresh. */
  lastUsedAt: Date
  /** When the user authenticated, in seconds (the tokens' `auth_time`). */
  authTime: number
  /** The session's maximum age from login; refresh refuses it from then on. */
  expiresAt: Date
  /** Refresh rotation counter: 0 at login, +1 per refresh. */
  counter: number
  /** When the counter last advanced (null before the first refresh): the start of the reuse grace. */
  supersededAt: Date | null
  endedAt: Date | null
  endReason: SessionEndReason | null
  deviceName: string | null
  createdIp: string | null
  lastIp: string | null
}

export interface NewSession {
  id: string
  userId: string
  authTime: number
  expiresAt: Date
  /** At most DEVICE_NAME_MAX_LENGTH characters. */
  deviceName: string | null
  ip: string | null
}

/**
 * A rotation's outcome. `stale`: the counter had already moved on (the caller tells a benign race within the
 * grace from a replayed token by `session.counter` and `supersededAt`). `ended` and `expired` win over `stale`.
 */
export type RotateResult =
  | { outcome: 'rotated' | 'stale' | 'ended' | 'expired', session: SessionRecord }
  | { outcome: 'missing' }

/** What the hybrid revocation check needs about one (user, session) pair, read in one round trip. */
export interface RevocationState {
  /** The user's current token version, or null when the user no longer exists. */
  tokenVersion: number | null
  /**
   * Whether the session has ended (ended rows count until purged). A sid with no row is NOT ended: tokens minted
   * before sessions were recorded carry sids that never had one, and refusing them would log every hybrid user out
   * at the upgrade. A purged row is equally harmless, as purging waits until no token of the session is valid.
   * Refresh of a sid without a row is the refresh service's decision, not this check's.
   */
  sessionEnded: boolean
}

export interface SessionStore {
  /**
   * Record a login. In the same transaction, if the user then has more than `maxPerUser` active sessions (not
   * ended, not expired), the least recently used others end with reason 'evicted'; the new one never does.
   */
  createSession (session: NewSession, options: { maxPerUser: number }): Promise<SessionRecord>
  /**
   * Compare-and-set for a refresh: counter + 1, superseded_at = last_used_at = now, last_ip = ip, only while the
   * counter equals `expectedCounter` and the session is neither ended nor expired. Of concurrent calls with one
   * counter, exactly one gets 'rotated'. `now` defaults to the store's clock.
   */
  rotateSession (id: string, expectedCounter: number, options: { ip: string | null, now?: Date }): Promise<RotateResult>
  findSession (id: string): Promise<SessionRecord | null>
  /** Sessions neither ended nor expired at `now` (default: the store's clock), most recently used first. */
  listActiveSessions (userId: string, now?: Date): Promise<SessionRecord[]>
  /** End one session (only `userId`'s when given). False when unknown, another user's, or already ended. */
  endSession (id: string, reason: SessionEndReason, options?: { userId?: string }): Promise<boolean>
  /**
   * End every session of the user not ended yet, expired ones included (an access token from their last refresh
   * may still be valid, and hybrid mode should refuse it), except `except`. Returns how many ended.
   */
  endUserSessions (userId: string, reason: SessionEndReason, options?: { except?: string }): Promise<number>
  /**
   * Hybrid logout of a sid that has no row (minted before sessions were recorded): store it as ended so the
   * revocation check refuses it. Nothing happens when the sid has a row already or the user no longer exists
   * (a deleted user's tokens are refused anyway). True when a row was written.
   */
  recordEndedSession (session: { id: string, userId: string, expiresAt: Date, reason: SessionEndReason }): Promise<boolean>
  /** The token version of `userId` and whether `sid` has ended: one read, made on a revocation-cache miss. */
  revocationState (userId: string, sid: string): Promise<RevocationState>
  /**
   * Delete at most `batchSize` sessions that ended or expired strictly before `before`; returns how many went.
   * Pass now minus the longest token lifetime: once a row is gone its sid counts as not ended (see RevocationState).
   */
  purgeSessions (before: Date, batchSize: number): Promise<number>
}
