// Registration, login, refresh and password changes: the rules, independent of HTTP.
import { Value } from '@sinclair/typebox/value'
import { nowSeconds, type Clock } from '../clock'
import { normalizeEmail } from '../lib/email'
import type { PasswordHasher } from '../lib/password-hasher'
import { checkPassword, normalizePassword, PASSWORD_MAX_LENGTH } from '../lib/password-policy'
import { Problems } from '../lib/problem'
import { NameSchema } from '../schemas/user'
import type { Revocations } from '../revocation/revocations'
import type { RefreshClaims } from '../tokens/claims'
import type { Session, SessionService, SignInClient } from './session-service'
import { EmailTakenError, LastAdminError, StoreUnavailableError, type Role, type SessionEndReason, type UserRecord, type UserStore } from '../store/user-store'

export interface AccountServiceDeps {
  store: UserStore
  hasher: PasswordHasher
  /** Sign-in creates a session; refresh, logout and the account changes below end or continue them. */
  sessions: SessionService
  clock: Clock
  passwordMinLength: number
  sessionMaxAge: number
  /** REQUIRE_VERIFIED_EMAIL: login answers 403 until the address is verified. */
  requireVerifiedEmail?: boolean
  /** REVOCATION_MODE=hybrid; absent in stateless mode, where a revocation is the version bump in the store alone. */
  revocations?: Revocations
}

export type { Session } from './session-service'

const codePoints = (s: string): number => [...s].length

/** Store failures become a 503 with Retry-After, a refused last-admin removal a 409; everything else passes through. */
export async function guardStore<T> (work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw Problems.storeUnavailable()
    if (err instanceof LastAdminError) throw Problems.lastAdmin()
    throw err
  }
}

export class AccountService {
  constructor (private readonly deps: AccountServiceDeps) {}

  get store (): UserStore { return this.deps.store }

  private email (raw: string): string {
    const email = normalizeEmail(raw)
    if (email === null) throw Problems.validation([{ path: '/email', message: 'must be an email address' }], 'The email address is invalid')
    return email
  }

  private acceptablePassword (raw: string, path: string): string {
    const verdict = checkPassword(raw, this.deps.passwordMinLength)
    if (!verdict.ok) throw Problems.weakPassword(verdict.code, verdict.detail, path)
    return verdict.normalized
  }

  /** Hybrid mode: every instance refuses tokens older than the user's new version (null: the user is gone). */
  private revoked (userId: string, version: number | null): void {
    this.deps.revocations?.userChanged(userId, version)
  }

  async register (input: { email: string, password: string, name?: string }, client: SignInClient = {}): Promise<Session> {
    const email = this.email(input.email)
    const password = this.acceptablePassword(input.password, '/password')
    const passwordHash = await this.deps.hasher.hash(password)
    try {
      const user = await guardStore(this.deps.store.create({ email, name: input.name ?? null, role: 'user', passwordHash }))
      return await this.deps.sessions.start(user, nowSeconds(this.deps.clock), client)
    } catch (err) {
      if (err instanceof EmailTakenError) throw Problems.emailTaken()
      throw err
    }
  }

  /**
   * Unknown email and wrong password cost the same argon2 work (see PasswordHasher.verifyLogin, also across a
   * change of ARGON2_* settings) and give the same problem, so neither the answer nor its timing tells whether
   * an account exists. An address outside the grammar is looked up nowhere and answered the same way.
   */
  async login (input: { email: string, password: string }, client: SignInClient = {}): Promise<Session> {
    const email = normalizeEmail(input.email)
    const password = normalizePassword(input.password)
    const user = email === null ? null : await guardStore(this.deps.store.findByEmail(email))
    const usable = codePoints(password) <= PASSWORD_MAX_LENGTH && password.isWellFormed()
    const verified = await this.deps.hasher.verifyLogin(usable ? user?.passwordHash ?? null : null, password)
    if (user === null || !verified) throw Problems.invalidCredentials()
    // Only after the right password: telling a stranger an account is disabled would enumerate it.
    if (user.disabled) throw Problems.accountDisabled()
    if (this.deps.requireVerifiedEmail === true && !user.emailVerified) throw Problems.emailNotVerified()
    let current = user
    if (this.deps.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await this.deps.hasher.hash(password)
      current = await guardStore(this.deps.store.update(user.id, { passwordHash })) ?? user
    }
    return await this.deps.sessions.start(current, nowSeconds(this.deps.clock), client)
  }

  /** Rotate a verified refresh token: checked against the user's current token version, then its session's counter. */
  async refresh (claims: RefreshClaims, client: SignInClient = {}): Promise<Session> {
    const user = await guardStore(this.deps.store.findById(claims.sub))
    if (user === null) throw Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_INVALID', 'The account no longer exists')
    if (user.disabled) throw Problems.invalidRefreshToken('ERR_ACCOUNT_DISABLED', 'This account has been disabled')
    if (claims.ver !== user.tokenVersion) throw Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_REVOKED', 'The session was revoked')
    if (nowSeconds(this.deps.clock) >= claims.auth_time + this.deps.sessionMaxAge) {
      throw Problems.invalidRefreshToken('ERR_SESSION_EXPIRED', 'The session reached its maximum age; log in again')
    }
    return await this.deps.sessions.refresh(user, claims, client)
  }

  async logoutAll (userId: string): Promise<void> {
    await this.endAllSessions(userId, 'logout_all')
  }

  /** Every session of the user ends: refresh tokens now, access tokens within seconds in hybrid mode (the version bump). */
  async endAllSessions (userId: string, reason: SessionEndReason): Promise<void> {
    const user = await this.existing(this.deps.store.update(userId, { bumpTokenVersion: true }))
    this.revoked(user.id, user.tokenVersion)
    await this.deps.sessions.endAfterVersionBump(user.id, reason)
  }

  /** The user a valid access token names; a deleted user's token is answered as invalid. */
  async existing (lookup: Promise<UserRecord | null>): Promise<UserRecord> {
    const user = await guardStore(lookup)
    if (user === null) throw Problems.invalidToken('The account no longer exists')
    return user
  }

  private async verifyCurrent (user: UserRecord, raw: string): Promise<void> {
    const password = normalizePassword(raw)
    if (!password.isWellFormed() || !await this.deps.hasher.verify(user.passwordHash, password)) {
      throw Problems.wrongPassword()
    }
  }

  /**
   * New password, every other session ended (and the version bumped), fresh tokens for the caller's session, which
   * goes on. The new password is judged before the current one is checked: the other way round, a refused new
   * password would tell a token thief that the guessed current one was right.
   */
  async changePassword (
    userId: string, input: { currentPassword: string, newPassword: string }, caller: { sid?: string, client?: SignInClient } = {}
  ): Promise<Session> {
    const password = this.acceptablePassword(input.newPassword, '/newPassword')
    const user = await this.existing(this.deps.store.findById(userId))
    await this.verifyCurrent(user, input.currentPassword)
    // A disabled user's access token lives out its TTL, but must not be traded for fresh tokens.
    if (user.disabled) throw Problems.accountDisabled()
    const passwordHash = await this.deps.hasher.hash(password)
    const updated = await this.existing(this.deps.store.update(user.id, { passwordHash, bumpTokenVersion: true }))
    this.revoked(updated.id, updated.tokenVersion)
    await this.deps.sessions.endAfterVersionBump(updated.id, 'password_changed', caller.sid === undefined ? {} : { except: caller.sid })
    // The caller's tokens of the old version are refused; its session continues with new ones.
    return await this.deps.sessions.continueOrStart(updated, caller.sid, caller.client ?? {})
  }

  async deleteSelf (userId: string, password: string): Promise<void> {
    const user = await this.existing(this.deps.store.findById(userId))
    await this.verifyCurrent(user, password)
    await guardStore(this.deps.store.delete(user.id))
    this.revoked(user.id, null)
  }

  /**
   * The caller of an administration route or command, read from the store on every call: the role claim of an
   * access token outlives a demotion, disabling or deletion by up to its TTL, and must not let the old admin
   * undo it. A deleted account is answered as an invalid token, as on every other route.
   */
  async actingAdmin (userId: string): Promise<UserRecord> {
    const user = await this.existing(this.deps.store.findById(userId))
    if (user.disabled) throw Problems.accountDisabled()
    if (user.role !== 'admin') throw Problems.insufficientScope('admin')
    return user
  }

  /** Admin deletion; false when the id is unknown. The last active administrator is refused (409). */
  async deleteUser (id: string): Promise<boolean> {
    const deleted = await guardStore(this.deps.store.delete(id, { keepActiveAdmin: true }))
    if (deleted) this.revoked(id, null)
    return deleted
  }

  /**
   * Admin update. Disabling and role changes revoke every session of the user (a token version bump), so no
   * token keeps a role the account no longer has; the last active administrator cannot be demoted or disabled (409).
   */
  async adminUpdate (id: string, patch: { role?: Role, disabled?: boolean }): Promise<UserRecord> {
    const user = await guardStore(this.deps.store.findById(id))
    if (user === null) throw Problems.userNotFound()
    const bump = (patch.disabled === true && !user.disabled) || (patch.role !== undefined && patch.role !== user.role)
    const updated = await guardStore(this.deps.store.update(id, { ...patch, bumpTokenVersion: bump, keepActiveAdmin: true }))
    if (updated === null) throw Problems.userNotFound()
    if (bump) {
      this.revoked(updated.id, updated.tokenVersion)
      await this.deps.sessions.endAfterVersionBump(updated.id, patch.disabled === true ? 'disabled' : 'admin')
    }
    return updated
  }

  /**
   * Used by the CLI to bootstrap an administrator. The operator vouches for the address, so the account
   * is created verified: REQUIRE_VERIFIED_EMAIL must not lock out the first administrator.
   */
  async createUser (input: { email: string, password: string, name?: string, role: Role }): Promise<UserRecord> {
    const email = this.email(input.email)
    // The command line has no route schema in front of it: the same name rule, checked here.
    if (input.name !== undefined && !Value.Check(NameSchema, input.name)) {
      throw Problems.validation([{ path: '/name', message: 'must be 1 to 100 characters without control characters or bidi overrides' }], 'The name is invalid')
    }
    const password = this.acceptablePassword(input.password, '/password')
    try {
      const passwordHash = await this.deps.hasher.hash(password)
      return await guardStore(this.deps.store.create({ email, name: input.name ?? null, role: input.role, passwordHash, emailVerified: true }))
    } catch (err) {
      if (err instanceof EmailTakenError) throw Problems.emailTaken()
      throw err
    }
  }
}
