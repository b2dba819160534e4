// The storage contract every user store (SQLite, PostgreSQL) implements and the contract tests check.
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
}

export interface ListOptions {
  limit: number
  /** Return users whose id sorts after this one (keyset pagination). */
  after?: string
}

/** A session logged out on its own (hybrid mode): refused until every token it covers has expired. */
export interface RevokedSession {
  sid: string
  userId: string
  /** When the longest-lived token of the session would have expired; the row may be purged after it. */
  expiresAt: Date
}

/** What the hybrid revocation check needs about one (user, session) pair, read in one round trip. */
export interface RevocationState {
  /** The user's current token version, or null when the user no longer exists. */
  tokenVersion: number | null
  /** Whether the session id is in revoked_sessions (expired rows included until purged). */
  sessionRevoked: boolean
}

/** Thrown by `create` when the email is already registered. */
export class EmailTakenError extends Error {
  readonly code = 'ERR_EMAIL_TAKEN'
  constructor () { super('email already registered') }
}

/** Thrown when the store cannot be reached; routes answer 503. */
export class StoreUnavailableError extends Error {
  readonly code = 'ERR_STORE_UNAVAILABLE'
  constructor (options?: { cause?: unknown }) { super('the user store is unavailable', options) }
}

export interface UserStore {
  readonly kind: 'sqlite' | 'postgres'
  /** Apply pending versioned migrations. Idempotent. */
  migrate (): Promise<void>
  create (user: NewUser): Promise<UserRecord>
  findById (id: string): Promise<UserRecord | null>
  findByEmail (email: string): Promise<UserRecord | null>
  /** Users ordered by id ascending; ids are time-ordered UUIDv7 so this is creation order. */
  list (options: ListOptions): Promise<UserRecord[]>
  /** Apply the patch and return the updated user, or null when the id is unknown (or `ifTokenVersion` differs). */
  update (id: string, patch: UserPatch): Promise<UserRecord | null>
  /** Returns false when the id is unknown. */
  delete (id: string): Promise<boolean>
  /** Record a revoked session. Idempotent: revoking one sid again keeps the later expiry. */
  revokeSession (session: RevokedSession): Promise<void>
  /** The token version of `userId` and whether `sid` is revoked: one read, made on a revocation-cache miss. */
  revocationState (userId: string, sid: string): Promise<RevocationState>
  /** Delete revoked sessions whose expiry is at or before `now`; returns how many went. */
  purgeRevokedSessions (now: Date): Promise<number>
  /**
   * The distinct argon2 parameter segments (`m=…,t=…,p=…`) of the stored password hashes, read once at start-up:
   * a failed login then costs a verify at each, so a dormant account with an old hash is not told apart by time.
   */
  passwordHashParameters (): Promise<string[]>
  /** Resolves when the store answers a trivial query; used by /health/ready. */
  ping (): Promise<void>
  close (): Promise<void>
}
