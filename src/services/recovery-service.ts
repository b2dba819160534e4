// Password reset and email verification by emailed links: the rules, independent of HTTP; no token state is stored.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { Errors } from '../errors'
import { isValidEmail, normalizeEmail } from '../lib/email'
import { newId } from '../lib/ids'
import type { PasswordHasher } from '../lib/password-hasher'
import { linkTo, resetPasswordMessage, verifyEmailMessage } from '../mail/messages'
import type { Outbox } from '../mail/outbox'
import type { Revocations } from '../revocation/revocations'
import type { UserRecord, UserStore } from '../store/user-store'
import type { ResetClaims, VerifyClaims } from '../tokens/claims'
import { passwordFingerprint, type LinkTokenIssuer } from '../tokens/link-tokens'
import { acceptablePassword } from './account-rules'
import type { SecurityEvents } from './security-events'
import type { SessionService, SignInClient } from './session-service'

export interface RecoveryServiceDeps {
  store: UserStore
  hasher: PasswordHasher
  links: LinkTokenIssuer
  outbox: Outbox
  /** PUBLIC_URL, without a trailing slash. */
  publicUrl: string
  passwordMinLength: number
  /** REVOCATION_MODE=hybrid: a reset's version bump reaches every instance's cache at once. */
  revocations?: Revocations
  /** A reset ends every session of the account. */
  sessions: SessionService
  /** Password resets and verified addresses are recorded here; default nowhere. */
  events?: SecurityEvents
}

/**
 * Stands in for the account when an address has none (or a disabled one), so that the answer costs the
 * same work: one lookup, one fingerprint, one signature, one message rendered; only the posting differs.
 */
const DECOY = { id: newId(), tokenVersion: 0, passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}` }

const sameFingerprint = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export class RecoveryService {
  constructor (private readonly deps: RecoveryServiceDeps) {}

  /**
   * Mail a reset link if the address has an enabled account. The caller answers 202 whatever happens
   * here, and nothing here waits for SMTP, so neither the answer nor its timing says whether it has.
   */
  async forgotPassword (rawEmail: string): Promise<void> {
    const email = normalizeEmail(rawEmail)
    // Syntax only: a malformed address says nothing about which accounts exist.
    if (email === null) throw Errors.invalidEmail()
    const user = await this.deps.store.findByEmail(email)
    const account = user !== null && !user.disabled ? user : null
    const { token, expiresIn } = this.deps.links.signReset(account ?? DECOY)
    // The stored address, not the typed one: the link goes to the mailbox that owns the account, whatever
    // a lenient store collation or an older, looser grammar let match.
    const to = account?.email ?? email
    const message = resetPasswordMessage(to, linkTo(this.deps.publicUrl, 'reset-password', token), expiresIn)
    if (account !== null) this.deps.outbox.post(message, { purpose: 'password-reset', userId: account.id })
  }

  /**
   * Set a new password with a verified reset token. It works once: the write bumps the token version
   * the token carries (compare-and-set, so two racing requests cannot both pass) and changes the
   * password hash its `pwd` is bound to. Every session dies with the version bump.
   */
  async resetPassword (claims: ResetClaims, newPassword: string, client?: SignInClient): Promise<void> {
    const user = await this.deps.store.findById(claims.sub)
    if (user === null || user.disabled || user.tokenVersion !== claims.ver ||
      !sameFingerprint(passwordFingerprint(user.passwordHash), claims.pwd)) {
      throw Errors.invalidResetToken()
    }
    // After the token: a weak password leaves the link usable for another try.
    const passwordHash = await this.deps.hasher.hash(acceptablePassword(newPassword, this.deps.passwordMinLength, '/newPassword'))
    // The link reached the inbox of user.email, which proves control of it just as a verification link does.
    const updated = await this.deps.store.update(user.id, {
      passwordHash, bumpTokenVersion: true, emailVerified: true, ifTokenVersion: claims.ver
    })
    if (updated === null) throw Errors.invalidResetToken()
    this.deps.revocations?.userChanged(updated.id, updated.tokenVersion)
    await this.deps.sessions.endAfterVersionBump(updated.id, 'password_reset')
    await this.deps.events?.record(updated.id, 'password_reset', { ...(client !== undefined ? { client } : {}), detail: 'every session ended' })
  }

  /** Mark the address verified. Idempotent; a token for an address the account no longer has is refused. */
  async verifyEmail (claims: VerifyClaims, client?: SignInClient): Promise<void> {
    const user = await this.deps.store.findById(claims.sub)
    if (user === null || user.email !== claims.email) throw Errors.invalidVerifyToken()
    if (user.emailVerified) return
    if (await this.deps.store.update(user.id, { emailVerified: true }) === null) throw Errors.invalidVerifyToken()
    await this.deps.events?.record(user.id, 'email_verified', client !== undefined ? { client } : {})
  }

  /** Mail a verification link (after registration, and on request); sending happens in the background. */
  sendVerification (user: Pick<UserRecord, 'id' | 'email'>): void {
    const { token, expiresIn } = this.deps.links.signVerification(user)
    const message = verifyEmailMessage(user.email, linkTo(this.deps.publicUrl, 'verify-email', token), expiresIn)
    this.deps.outbox.post(message, { purpose: 'email-verification', userId: user.id })
  }

  /** A new verification link for the signed-in user's own, not yet verified, address. */
  resendVerification (user: UserRecord): void {
    // A disabled user's access token lives out its TTL, but earns nothing new.
    if (user.disabled) throw Errors.accountDisabled()
    if (user.emailVerified) throw Errors.emailAlreadyVerified()
    // An address stored before the grammar was strict ("a@x.org,b.org") is not mailed: it could reach another mailbox.
    if (!isValidEmail(user.email)) {
      throw Errors.validation([{ path: '/email', message: 'is not a valid email address' }], 'The account\'s stored email address is not valid')
    }
    this.sendVerification(user)
  }
}
