// The security-event half of the storage contract: an append-only record per account (logins, password changes,
// sessions ended, administrators' actions…), read newest first, deleted only by the retention purge.

/** What happened. Stored as text, so a new type needs no migration. */
export type SecurityEventType =
  | 'account_created'
  | 'login_succeeded'
  /** The right account, the wrong password (or the right one on a disabled or unverified account: `detail` says). */
  | 'login_failed'
  | 'password_changed'
  | 'password_reset'
  | 'email_verified'
  /** Ended by its owner (`detail`: logout, logout_others, logout_all). */
  | 'session_ended'
  /** A superseded refresh token was presented again: its session ended (RFC 9700 §4.14.2). */
  | 'refresh_token_reused'
  | 'mfa_enabled'
  | 'mfa_disabled'
  /** Administrators' actions on the account; `actorId` names the administrator (null: the command line). */
  | 'admin_role_changed'
  | 'admin_disabled'
  | 'admin_enabled'
  | 'admin_sessions_ended'
  | 'admin_user_deleted'
  /** Two-factor sign-in turned off by an administrator (a lost device). */
  | 'admin_mfa_reset'

export const SECURITY_EVENT_TYPES: readonly SecurityEventType[] = [
  'account_created', 'login_succeeded', 'login_failed', 'password_changed', 'password_reset', 'email_verified', 'session_ended',
  'refresh_token_reused', 'mfa_enabled', 'mfa_disabled', 'admin_role_changed', 'admin_disabled', 'admin_enabled',
  'admin_sessions_ended', 'admin_user_deleted', 'admin_mfa_reset'
]

/** Longest `detail` the store keeps (the column checks it); callers pass short fixed words. */
export const SECURITY_EVENT_DETAIL_MAX_LENGTH = 100

export interface NewSecurityEvent {
  /** The account the event is about. Not a foreign key: the record outlives the account, until the retention purge. */
  userId: string
  type: SecurityEventType
  /** The client's address (clientAddress), when the event came from a request. */
  ip: string | null
  /** The device label (at most DEVICE_NAME_MAX_LENGTH characters). */
  deviceName: string | null
  sessionId: string | null
  /** The administrator who acted, for admin_* events. */
  actorId: string | null
  detail: string | null
}

export interface SecurityEventRecord extends NewSecurityEvent {
  /** Time-ordered (UUIDv7): newest first is id descending, and the keyset of the pages. */
  id: string
  createdAt: Date
}

export interface SecurityEventStore {
  /** Append one event, stamped with the store's clock. Nothing ever updates one. */
  appendSecurityEvent (event: NewSecurityEvent): Promise<SecurityEventRecord>
  /** The user's events, newest first, at most `limit`, only those older than the event `before` (an id) when given. */
  listSecurityEvents (userId: string, options: { limit: number, before?: string }): Promise<SecurityEventRecord[]>
  /** Delete at most `batchSize` events created strictly before `before`; returns how many went. */
  purgeSecurityEvents (before: Date, batchSize: number): Promise<number>
}

/** A security_events row as both stores read it; `created_at` is left to each (a Date from pg, text from SQLite). */
export interface SecurityEventColumns {
  id: string
  user_id: string
  type: string
  ip: string | null
  device_name: string | null
  session_id: string | null
  actor_id: string | null
  detail: string | null
}

export const eventFromRow = (row: SecurityEventColumns, createdAt: Date): SecurityEventRecord => ({
  id: row.id,
  userId: row.user_id,
  type: row.type as SecurityEventType,
  createdAt,
  ip: row.ip,
  deviceName: row.device_name,
  sessionId: row.session_id,
  actorId: row.actor_id,
  detail: row.detail
})
