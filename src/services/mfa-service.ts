// Two-factor sign-in (issue 16): TOTP enrolment, recovery codes, the second step of login, and the administrator's
// reset. The rules, independent of HTTP. Between the password and the code there is no pending-login record: the
// mfaToken is signed, and the user's MFA counter (moved on by every accepted factor) makes a used one worthless.
import { nowSeconds, type Clock } from '../clock'
import { Errors, type TesseraError } from '../errors'
import type { PasswordHasher } from '../lib/password-hasher'
import { normalizePassword } from '../lib/password-policy'
import { newRecoveryCodes, normalizeRecoveryCode } from '../mfa/recovery-codes'
import type { SecretBox } from '../mfa/secret-box'
import { matchingStep, newTotpSecret, otpauthUri } from '../mfa/totp'
import type { MfaFactor, MfaState, UserRecord, UserStore } from '../store/user-store'
import { MFA_AMR, type MfaClaims } from '../tokens/claims'
import type { MfaTokenIssuer } from '../tokens/mfa-tokens'
import type { EventContext, SecurityEvents } from './security-events'
import type { SessionService, SignedIn, SignInClient } from './session-service'

export interface MfaServiceDeps {
  store: UserStore
  hasher: PasswordHasher
  sessions: SessionService
  clock: Clock
  /** Seals TOTP secrets and hashes recovery codes; built on first use (the key file is read or created then). */
  box: () => SecretBox
  tokens: MfaTokenIssuer
  /** The issuer name authenticator apps show beside the account (JWT_ISSUER). */
  issuer: string
  /** MFA turned on or off by its owner, and sign-ins finished with a second factor, are recorded here; default nowhere. */
  events?: SecurityEvents
}

/** What a correct password gets for an account with two-factor sign-in on, instead of tokens. */
export interface MfaChallenge {
  mfaRequired: true
  mfaToken: string
  expiresIn: number
  methods: Array<'totp' | 'recovery_code'>
}

/** A second factor as the client sends it: a 6-digit TOTP code, or a recovery code. */
export type SecondFactor = { code: string } | { recoveryCode: string }

export interface Enrolment { secret: string, otpauthUri: string }

/** The caller's own session, which goes on when the others end. */
export interface Caller { sid?: string, client?: SignInClient }

/** How an owner's MFA change is recorded: from which session and device; the other sessions ended with it. */
const eventContext = (caller: Caller): EventContext =>
  ({ ...(caller.client !== undefined ? { client: caller.client } : {}), sessionId: caller.sid ?? null, detail: 'other sessions ended' })

export class MfaService {
  constructor (private readonly deps: MfaServiceDeps) {}

  private async state (userId: string): Promise<MfaState> {
    const state = await this.deps.store.mfaState(userId)
    if (state === null) throw Errors.invalidToken('The account no longer exists')
    return state
  }

  /** Step 1 of enrolment: the password again (a stolen access token alone must not bind an attacker's device). */
  async enrol (userId: string, password: string): Promise<Enrolment> {
    const user = await this.deps.store.findById(userId)
    if (user === null) throw Errors.invalidToken('The account no longer exists')
    const normalized = normalizePassword(password)
    if (!normalized.isWellFormed() || !await this.deps.hasher.verify(user.passwordHash, normalized)) throw Errors.wrongPassword()
    if (user.mfaEnabled) throw Errors.mfaAlreadyEnabled()
    const secret = newTotpSecret()
    if (!await this.deps.store.setPendingMfa(user.id, this.deps.box().seal(secret, user.id))) throw Errors.mfaAlreadyEnabled()
    return { secret, otpauthUri: otpauthUri(secret, this.deps.issuer, user.email) }
  }

  /** Step 2: the first code from the app proves it holds the secret; MFA goes on and the other sessions end. */
  async confirm (userId: string, code: string, caller: Caller): Promise<string[]> {
    const state = await this.state(userId)
    if (state.secret !== null) throw Errors.mfaAlreadyEnabled()
    if (state.pendingSecret === null) throw Errors.mfaNotPending()
    const secret = this.deps.box().open(state.pendingSecret, userId)
    const step = matchingStep(secret, code, this.deps.clock.now(), null)
    if (step === null) throw Errors.mfaCodeInvalid()
    const codes = newRecoveryCodes()
    const enabled = await this.deps.store.enableMfa(userId, { sealed: state.pendingSecret, step, codeHashes: this.hashes(userId, codes) })
    // Another request enrolled or confirmed in between: this secret is no longer the pending one.
    if (!enabled) throw Errors.mfaNotPending()
    await this.endOthers(userId, 'mfa_enabled', caller)
    await this.deps.events?.record(userId, 'mfa_enabled', eventContext(caller))
    return codes
  }

  /** New recovery codes for a current TOTP code; the old ones are void in the same write. */
  async regenerateRecoveryCodes (userId: string, code: string): Promise<string[]> {
    const codes = newRecoveryCodes()
    await this.spend(userId, { code }, { replaceCodes: this.hashes(userId, codes) })
    return codes
  }

  /** Turn two-factor sign-in off with a current code or a recovery code; the other sessions end. */
  async disable (userId: string, factor: SecondFactor, caller: Caller): Promise<void> {
    await this.spend(userId, factor, { disable: true })
    await this.endOthers(userId, 'mfa_disabled', caller)
    await this.deps.events?.record(userId, 'mfa_disabled', eventContext(caller))
  }

  /** An administrator's reset for a user who lost the device: MFA off, every session of the user ended. */
  async reset (userId: string): Promise<void> {
    const state = await this.deps.store.mfaState(userId)
    if (state === null) throw Errors.userNotFound()
    if (state.secret === null && state.pendingSecret === null) throw Errors.mfaNotEnabled()
    if (!await this.deps.store.resetMfa(userId)) throw Errors.userNotFound()
    await this.deps.sessions.endAll(userId, 'mfa_disabled')
  }

  /** Login's answer for a user with MFA on, after the password and every other check passed. */
  async challenge (user: UserRecord, client: SignInClient): Promise<MfaChallenge> {
    const state = await this.state(user.id)
    const { token, expiresIn } = this.deps.tokens.sign(user, state.counter, client.deviceName)
    return { mfaRequired: true, mfaToken: token, expiresIn, methods: ['totp', 'recovery_code'] }
  }

  /**
   * The second step of login. The token is checked against the account first (version, counter): a used or outdated
   * token is refused before any code is looked at, so it cannot serve to test codes. Then the factor is spent with a
   * compare-and-set on the counter, and only then the session starts, with `amr` ["pwd","otp"].
   */
  async verify (claims: MfaClaims, factor: SecondFactor, client: SignInClient): Promise<SignedIn> {
    const user = await this.deps.store.findById(claims.sub)
    if (user === null || user.tokenVersion !== claims.ver) throw Errors.mfaTokenInvalid()
    if (user.disabled) throw Errors.accountDisabled()
    const state = await this.deps.store.mfaState(user.id)
    if (state === null || state.secret === null || state.counter !== claims.ctr) throw Errors.mfaTokenInvalid()
    await this.spendFrom(user.id, state, factor, { counter: claims.ctr }, () => Errors.mfaTokenInvalid())
    const deviceName = claims.dev ?? client.deviceName
    const device = { ...client, ...(deviceName !== undefined ? { deviceName } : {}) }
    const signedIn = await this.deps.sessions.start(user, nowSeconds(this.deps.clock), device, MFA_AMR)
    await this.deps.events?.record(user.id, 'login_succeeded', { client: device, sessionId: signedIn.tokens.sessionId, detail: 'second factor' })
    return signedIn
  }

  private hashes (userId: string, codes: readonly string[]): string[] {
    const box = this.deps.box()
    // newRecoveryCodes only makes codes normalizeRecoveryCode accepts.
    return codes.map((code) => box.hashCode(userId, normalizeRecoveryCode(code)!))
  }

  private async spend (userId: string, factor: SecondFactor, options: { replaceCodes?: string[], disable?: boolean }): Promise<void> {
    const state = await this.state(userId)
    if (state.secret === null) throw Errors.mfaNotEnabled()
    // A change that won the race moved the counter on; the caller may simply try again with a new code.
    await this.spendFrom(userId, state, factor, { ...options, counter: state.counter }, () => Errors.mfaCodeInvalid())
  }

  /**
   * Check the factor against `state` and spend it, compare-and-set on the counter read with it. A refusal changes
   * nothing. When the store refuses, the counter tells why: moved on (another sign-in or change won: `raced`, for a
   * sign-in a dead mfaToken), or not (the step was taken meanwhile, or the code used).
   */
  private async spendFrom (
    userId: string, state: MfaState, factor: SecondFactor, options: { counter: number, replaceCodes?: string[], disable?: boolean },
    raced: () => TesseraError
  ): Promise<void> {
    let spend: MfaFactor
    if ('code' in factor) {
      const step = matchingStep(this.deps.box().open(state.secret!, userId), factor.code, this.deps.clock.now(), state.lastStep)
      if (step === null) throw Errors.mfaCodeInvalid()
      spend = { step }
    } else {
      const code = normalizeRecoveryCode(factor.recoveryCode)
      if (code === null) throw Errors.mfaCodeInvalid()
      spend = { codeHash: this.deps.box().hashCode(userId, code) }
    }
    if (await this.deps.store.spendMfaFactor(userId, spend, options)) return
    const now = await this.deps.store.mfaState(userId)
    if (now === null || now.counter !== options.counter) throw raced()
    throw Errors.mfaCodeInvalid()
  }

  private async endOthers (userId: string, reason: 'mfa_enabled' | 'mfa_disabled', caller: Caller): Promise<void> {
    if (caller.sid !== undefined) await this.deps.sessions.endAllBut(userId, reason, caller.sid)
    // A token from before sessions were recorded names none to keep: every session ends, the caller's included.
    else await this.deps.sessions.endAll(userId, reason)
  }
}
