// The storage contract every user store (SQLite, PostgreSQL) implements and the contract tests check.
import type { MfaStore } from './mfa-store'
import type { SecurityEventStore } from './security-event-store'
import type { SessionStore } from './session-store'

export type { MfaFactor, MfaState, MfaStore, SpendOptions } from './mfa-store'
export type { NewSecurityEvent, SecurityEventRecord, SecurityEventStore, SecurityEventType } from './security-event-store'

export type { NewSession, RevocationState, RotateResult, SessionEndReason, SessionRecord, SessionStore } from './session-store'

export type Role = 'user' | 'admin'
export const ROLES: readonly Role[] = ['user', 'admin']

export interface UserRecord {
  id: string
  /** Normalised (trimmed, NFKC, lower-cased) address; unique. */
  email: string
  name: string | null
  role: Role
  disabled: boolean
  passwordHash: string
  /** Bumped to revoke every refresh token of the user at once. */
  tokenVersion: number
  /** The owner proved control of `email` (verification link, or a password reset mailed to it). */
  emailVerified: boolean
  /** Two-factor sign-in is on: login asks for a second factor (src/services/mfa-service.ts). */
  mfaEnabled: boolean
  createdAt: Date
  updatedAt: Date
}

export interface NewUser {
  email: string
  name: string | null
  role: Role
  passwordHash: string
  /** Default false; the command line's administrators are created verified. */
  emailVerified?: boolean
}

export interface UserPatch {
  name?: string | null
  role?: Role
  disabled?: boolean
  passwordHash?: string
  emailVerified?: boolean
  /** Increment the token version in the same write. */
  bumpTokenVersion?: boolean
  /**
   * Compare-and-set: apply the patch only while the token version still equals this, else change
   * nothing and return null. Makes a password reset single-use even when two requests race.
   */
  ifTokenVersion?: number
  /**
   * Refuse with LastAdminError, atomically with the write, when the patch would take away the last active
   * administrator (the target is one, no other is, and the patch demotes or disables it).
   */
  keepActiveAdmin?: boolean
}

export interface DeleteOptions {
  /** Refuse with LastAdminError, atomically with the delete, when the target is the last active administrator. */
  keepActiveAdmin?: boolean
}

export interface ListOptions {
  limit: number
  /** Return users whose id sorts after this one (keyset pagination). */
  after?: string
}

/** Thrown by `create` when the email is already registered. */
export class EmailTakenError extends Error {
  readonly code = 'ERR_EMAIL_TAKEN'
  constructor () { super('email already registered') }
}

/** Thrown by a guarded write (`keepActiveAdmin`) that would leave no active administrator; nothing changed. */
export class LastAdminError extends Error {
  readonly code = 'ERR_LAST_ADMIN'
  constructor () { super('the last active administrator cannot be demoted, disabled or deleted') }
}

/** Enabled and role admin: the accounts that can still administer the service. */
export const isActiveAdmin = (user: Pick<UserRecord, 'role' | 'disabled'>): boolean => user.role === 'admin' && !user.disabled

/** Whether `patch` (or a delete, without one) would take away `user`'s active administrator status. */
export function losesActiveAdmin (user: Pick<UserRecord, 'role' | 'disabled'>, patch?: UserPatch): boolean {
  if (!isActiveAdmin(user)) return false
  if (patch === undefined) return true
  return !isActiveAdmin({ role: patch.role ?? user.role, disabled: patch.disabled ?? user.disabled })
}

/** Thrown when the store cannot be reached; routes answer 503. */
export class StoreUnavailableError extends Error {
  readonly code = 'ERR_STORE_UNAVAILABLE'
  constructor (options?: { cause?: unknown }) { super('the user store is unavailable', options) }
}

export interface UserStore extends SessionStore, MfaStore, SecurityEventStore {
  readonly kind: 'sqlite' | 'postgres'
  /** Apply pending versioned migrations. Idempotent. */
  migrate (): Promise<void>
  create (user: NewUser): Promise<UserRecord>
  findById (id: string): Promise<UserRecord | null>
  findByEmail (email: string): Promise<UserRecord | null>
  /** Users ordered by id ascending; ids are time-ordered UUIDv7 so this is creation order. */
  list (options: ListOptions): Promise<UserRecord[]>
  /**
   * Apply the patch and return the updated user, or null when the id is unknown (or `ifTokenVersion` differs);
   * with `keepActiveAdmin`, throws LastAdminError instead of removing the last active administrator.
   */
  update (id: string, patch: UserPatch): Promise<UserRecord | null>
  /** Returns false when the id is unknown; with `keepActiveAdmin`, throws LastAdminError as `update` does. */
  delete (id: string, options?: DeleteOptions): Promise<boolean>
  /**
   * The distinct argon2 parameter segments (`m=…,t=…,p=…`) of the stored password hashes, read once at start-up:
   * a failed login then costs a verify at each, so a dormant account with an old hash is not told apart by time.
   */
  passwordHashParameters (): Promise<string[]>
  /** Resolves when the store answers a trivial query; used by /health/ready. */
  ping (): Promise<void>
  close (): Promise<void>
}
