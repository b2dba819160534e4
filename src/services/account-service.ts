// Self-service: registration, login, refresh, logout, and the signed-in user's own account. The rules, independent of HTTP.
import { nowSeconds, type Clock } from '../clock'
import { Errors } from '../errors'
import { normalizeEmail } from '../lib/email'
import type { PasswordHasher } from '../lib/password-hasher'
import { normalizePassword, PASSWORD_MAX_LENGTH } from '../lib/password-policy'
import type { Revocations } from '../revocation/revocations'
import { EmailTakenError, type UserRecord, type UserStore } from '../store/user-store'
import type { RefreshClaims } from '../tokens/claims'
import { acceptablePassword, requireEmail } from './account-rules'
import type { MfaChallenge } from './mfa-service'
import type { SecurityEvents } from './security-events'
import type { SessionService, SignedIn, SignInClient } from './session-service'

export interface AccountServiceDeps {
  store: UserStore
  hasher: PasswordHasher
  /** Sign-in creates a session; refresh, logout and the account changes below end or continue them. */
  sessions: SessionService
  clock: Clock
  passwordMinLength: number
  sessionMaxAge: number
  /** REQUIRE_VERIFIED_EMAIL: login is refused until the address is verified. */
  requireVerifiedEmail?: boolean
  /** REVOCATION_MODE=hybrid; absent in stateless mode, where a revocation is the version bump in the store alone. */
  revocations?: Revocations
  /** Mails the verification link to a newly registered address (RecoveryService). */
  verification: { sendVerification (user: Pick<UserRecord, 'id' | 'email'>): void }
  /** For an account with two-factor sign-in on, login answers with an mfaToken instead of tokens (MfaService). */
  mfa: { challenge (user: UserRecord, client: SignInClient): Promise<MfaChallenge> }
  /** Sign-ins, failed logins of existing accounts, password changes and logout-all are recorded here; default nowhere. */
  events?: SecurityEvents
}

export type { SignedIn } from './session-service'

const codePoints = (s: string): number => [...s].length

export class AccountService {
  constructor (private readonly deps: AccountServiceDeps) {}

  /** Hybrid mode: every instance refuses tokens older than the user's new version (null: the user is gone). */
  private publishRevocation (userId: string, version: number | null): void {
    this.deps.revocations?.userChanged(userId, version)
  }

  /** The account a valid access token names; a deleted account's token is answered as invalid. */
  private async tokenHolder (lookup: Promise<UserRecord | null>): Promise<UserRecord> {
    const user = await lookup
    if (user === null) throw Errors.invalidToken('The account no longer exists')
    return user
  }

  /** Create the account, mail its verification link, and sign it in. */
  async register (input: { email: string, password: string, name?: string }, client: SignInClient = {}): Promise<SignedIn> {
    const email = requireEmail(input.email)
    const password = acceptablePassword(input.password, this.deps.passwordMinLength, '/password')
    const passwordHash = await this.deps.hasher.hash(password)
    let user: UserRecord
    try {
      user = await this.deps.store.create({ email, name: input.name ?? null, role: 'user', passwordHash })
    } catch (err) {
      if (err instanceof EmailTakenError) throw Errors.emailTaken()
      throw err
    }
    this.deps.verification.sendVerification(user)
    const signedIn = await this.deps.sessions.start(user, nowSeconds(this.deps.clock), client)
    await this.deps.events?.record(user.id, 'account_created', { client, sessionId: signedIn.tokens.sessionId })
    return signedIn
  }

  /**
   * Unknown email and wrong password cost the same argon2 work (see PasswordHasher.verifyLogin, also across a
   * change of ARGON2_* settings) and give the same error, so neither the answer nor its timing tells whether
   * an account exists. An address outside the grammar is looked up nowhere and answered the same way.
   */
  async login (input: { email: string, password: string }, client: SignInClient = {}): Promise<SignedIn | MfaChallenge> {
    const email = normalizeEmail(input.email)
    const password = normalizePassword(input.password)
    const user = email === null ? null : await this.deps.store.findByEmail(email)
    const usable = codePoints(password) <= PASSWORD_MAX_LENGTH && password.isWellFormed()
    const verified = await this.deps.hasher.verifyLogin(usable ? user?.passwordHash ?? null : null, password)
    if (user === null) throw Errors.invalidCredentials()
    // Recorded for existing accounts only: an unknown address has no owner to show it to.
    if (!verified) {
      await this.deps.events?.record(user.id, 'login_failed', { client, detail: 'wrong_password' })
      throw Errors.invalidCredentials()
    }
    // Only after the right password: telling a stranger an account is disabled would enumerate it.
    if (user.disabled) {
      await this.deps.events?.record(user.id, 'login_failed', { client, detail: 'account_disabled' })
      throw Errors.accountDisabled()
    }
    if (this.deps.requireVerifiedEmail === true && !user.emailVerified) {
      await this.deps.events?.record(user.id, 'login_failed', { client, detail: 'email_not_verified' })
      throw Errors.emailNotVerified()
    }
    let current = user
    if (this.deps.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await this.deps.hasher.hash(password)
      current = await this.deps.store.update(user.id, { passwordHash }) ?? user
    }
    // The password is only the first factor: no session until the second (POST /v1/auth/mfa/verify), which records it.
    if (current.mfaEnabled) return await this.deps.mfa.challenge(current, client)
    const signedIn = await this.deps.sessions.start(current, nowSeconds(this.deps.clock), client)
    await this.deps.events?.record(user.id, 'login_succeeded', { client, sessionId: signedIn.tokens.sessionId })
    return signedIn
  }

  /** Rotate a verified refresh token: checked against the user's current token version, then its session's counter. */
  async refresh (claims: RefreshClaims, client: SignInClient = {}): Promise<SignedIn> {
    const user = await this.deps.store.findById(claims.sub)
    if (user === null) throw Errors.invalidRefreshToken('ERR_REFRESH_TOKEN_INVALID', 'The account no longer exists')
    if (user.disabled) throw Errors.invalidRefreshToken('ERR_ACCOUNT_DISABLED', 'This account has been disabled')
    if (claims.ver !== user.tokenVersion) throw Errors.invalidRefreshToken('ERR_REFRESH_TOKEN_REVOKED', 'The session was revoked')
    if (nowSeconds(this.deps.clock) >= claims.auth_time + this.deps.sessionMaxAge) {
      throw Errors.invalidRefreshToken('ERR_SESSION_EXPIRED', 'The session reached its maximum age; log in again')
    }
    return await this.deps.sessions.refresh(user, claims, client)
  }

  async logoutAll (userId: string, caller: { sid?: string, client?: SignInClient } = {}): Promise<void> {
    if (!await this.deps.sessions.endAll(userId, 'logout_all')) throw Errors.invalidToken('The account no longer exists')
    await this.deps.events?.record(userId, 'session_ended', { ...(caller.client !== undefined ? { client: caller.client } : {}), sessionId: caller.sid ?? null, detail: 'logout_all' })
  }

  /** The signed-in user's account. */
  async me (userId: string): Promise<UserRecord> {
    return await this.tokenHolder(this.deps.store.findById(userId))
  }

  async updateProfile (userId: string, patch: { name: string | null }): Promise<UserRecord> {
    return await this.tokenHolder(this.deps.store.update(userId, { name: patch.name }))
  }

  private async verifyCurrent (user: UserRecord, raw: string): Promise<void> {
    const password = normalizePassword(raw)
    if (!password.isWellFormed() || !await this.deps.hasher.verify(user.passwordHash, password)) {
      throw Errors.wrongPassword()
    }
  }

  /**
   * New password, every other session ended (and the version bumped), fresh tokens for the caller's session, which
   * goes on. The new password is judged before the current one is checked: the other way round, a refused new
   * password would tell a token thief that the guessed current one was right.
   */
  async changePassword (
    userId: string, input: { currentPassword: string, newPassword: string },
    caller: { sid?: string, client?: SignInClient, amr?: readonly string[] } = {}
  ): Promise<SignedIn> {
    const password = acceptablePassword(input.newPassword, this.deps.passwordMinLength, '/newPassword')
    const user = await this.me(userId)
    await this.verifyCurrent(user, input.currentPassword)
    // A disabled user's access token lives out its TTL, but must not be traded for fresh tokens.
    if (user.disabled) throw Errors.accountDisabled()
    const passwordHash = await this.deps.hasher.hash(password)
    const updated = await this.tokenHolder(this.deps.store.update(user.id, { passwordHash, bumpTokenVersion: true }))
    this.publishRevocation(updated.id, updated.tokenVersion)
    await this.deps.sessions.endAfterVersionBump(updated.id, 'password_changed', caller.sid === undefined ? {} : { except: caller.sid })
    // The caller's tokens of the old version are refused; its session continues with new ones.
    const signedIn = await this.deps.sessions.continueOrStart(updated, caller.sid, caller.client ?? {}, caller.amr)
    await this.deps.events?.record(updated.id, 'password_changed', { client: caller.client ?? {}, sessionId: signedIn.tokens.sessionId, detail: 'other sessions ended' })
    return signedIn
  }

  async deleteSelf (userId: string, password: string): Promise<void> {
    const user = await this.me(userId)
    await this.verifyCurrent(user, password)
    await this.deps.store.delete(user.id)
    this.publishRevocation(user.id, null)
  }
}
