// What a service refuses and why: one error class with a stable code. It knows nothing of HTTP; src/lib/problem.ts
// (problemFor) is the one place that turns it into a status, a title and, for tokens, a WWW-Authenticate challenge.
import type { PasswordErrorCode } from './lib/password-policy'
import type { Role } from './store/user-store'

export interface FieldError { path: string, message: string }

/** Every code a service throws; each is also a problem code (src/lib/problem.ts maps them all, checked by its type). */
export const ERROR_CODES = [
  'ERR_ACCOUNT_DISABLED', 'ERR_EMAIL_ALREADY_VERIFIED', 'ERR_EMAIL_NOT_VERIFIED', 'ERR_EMAIL_TAKEN', 'ERR_FORBIDDEN',
  'ERR_INVALID_CREDENTIALS', 'ERR_LAST_ADMIN', 'ERR_MFA_ALREADY_ENABLED', 'ERR_MFA_CODE_INVALID', 'ERR_MFA_NOT_ENABLED',
  'ERR_MFA_NOT_PENDING', 'ERR_MFA_TOKEN_INVALID', 'ERR_PASSWORD_COMMON', 'ERR_PASSWORD_MALFORMED', 'ERR_PASSWORD_TOO_LONG',
  'ERR_PASSWORD_TOO_SHORT', 'ERR_REFRESH_TOKEN_EXPIRED', 'ERR_REFRESH_TOKEN_INVALID', 'ERR_REFRESH_TOKEN_REUSED',
  'ERR_REFRESH_TOKEN_REVOKED', 'ERR_RESET_TOKEN_EXPIRED', 'ERR_RESET_TOKEN_INVALID', 'ERR_SESSION_EXPIRED', 'ERR_SESSION_NOT_FOUND',
  'ERR_TOKEN_INVALID',
  'ERR_USER_NOT_FOUND', 'ERR_VALIDATION', 'ERR_VERIFY_TOKEN_EXPIRED', 'ERR_VERIFY_TOKEN_INVALID', 'ERR_WRONG_PASSWORD'
] as const
export type ErrorCode = typeof ERROR_CODES[number]

/** Why a refresh token is refused: the token itself, or the account or session behind it. */
export type RefreshRefusal = 'ERR_REFRESH_TOKEN_INVALID' | 'ERR_REFRESH_TOKEN_EXPIRED' | 'ERR_REFRESH_TOKEN_REVOKED' |
  'ERR_REFRESH_TOKEN_REUSED' | 'ERR_SESSION_EXPIRED' | 'ERR_ACCOUNT_DISABLED'

export interface TesseraErrorInit {
  code: ErrorCode
  detail: string
  errors?: FieldError[]
  /** The refresh token presented is what is refused (a disabled account refuses it too, with its own code). */
  refusesRefreshToken?: boolean
  /** The role the caller lacks (ERR_FORBIDDEN). */
  requiredRole?: Role
}

export class TesseraError extends Error {
  readonly code: ErrorCode
  readonly detail: string
  readonly errors: FieldError[] | undefined
  readonly refusesRefreshToken: boolean
  readonly requiredRole: Role | undefined

  constructor (init: TesseraErrorInit, options?: { cause?: unknown }) {
    super(init.detail, options)
    this.name = 'TesseraError'
    this.code = init.code
    this.detail = init.detail
    this.errors = init.errors
    this.refusesRefreshToken = init.refusesRefreshToken ?? false
    this.requiredRole = init.requiredRole
  }
}

const error = (code: ErrorCode, detail: string): TesseraError => new TesseraError({ code, detail })

/** Every refusal a service makes, by what happened. */
export const Errors = {
  validation: (errors: FieldError[], detail = 'The request is invalid') => new TesseraError({ code: 'ERR_VALIDATION', detail, errors }),
  invalidEmail: () => Errors.validation([{ path: '/email', message: 'must be an email address' }], 'The email address is invalid'),
  weakPassword: (code: PasswordErrorCode, detail: string, path = '/password') =>
    new TesseraError({ code, detail, errors: [{ path, message: detail }] }),
  emailTaken: () => error('ERR_EMAIL_TAKEN', 'An account with this email already exists'),
  invalidCredentials: () => error('ERR_INVALID_CREDENTIALS', 'The email or password is incorrect'),
  wrongPassword: () => error('ERR_WRONG_PASSWORD', 'The current password is incorrect'),
  accountDisabled: () => error('ERR_ACCOUNT_DISABLED', 'This account has been disabled'),
  emailNotVerified: () => error('ERR_EMAIL_NOT_VERIFIED', 'Verify your email address with the link sent to it, or reset your password, then log in'),
  emailAlreadyVerified: () => error('ERR_EMAIL_ALREADY_VERIFIED', 'This email address is already verified'),
  /** The access token is well signed but names nothing usable (the account was deleted since). */
  invalidToken: (detail = 'The access token is invalid') => error('ERR_TOKEN_INVALID', detail),
  invalidRefreshToken: (code: RefreshRefusal = 'ERR_REFRESH_TOKEN_INVALID', detail = 'The refresh token is invalid') =>
    new TesseraError({ code, detail, refusesRefreshToken: true }),
  roleRequired: (role: Role) => new TesseraError({ code: 'ERR_FORBIDDEN', detail: `This operation requires the ${role} role`, requiredRole: role }),
  /** An access token issued before sessions were recorded names none, so it cannot log one out; a refresh gives one that does. */
  sessionlessToken: () => error('ERR_TOKEN_INVALID', 'The token carries no session; refresh it'),
  /**
   * A refresh token already exchanged came back after REFRESH_REUSE_GRACE: one of its holders is not the client (RFC 9700
   * §4.14.2). Its session has ended; every refresh token of it is refused from now on, so the user signs in again.
   */
  refreshTokenReused: () => Errors.invalidRefreshToken('ERR_REFRESH_TOKEN_REUSED',
    'This refresh token was already used; the session has been ended for safety. Log in again'),
  /** An unknown id, another user's session, or one that has already ended: the answer does not say which. */
  sessionNotFound: () => error('ERR_SESSION_NOT_FOUND', 'No active session of this user has this id'),
  invalidResetToken: (expired = false) => expired
    ? error('ERR_RESET_TOKEN_EXPIRED', 'The password reset link expired; ask for a new one')
    : error('ERR_RESET_TOKEN_INVALID', 'The password reset link is invalid or was already used; ask for a new one'),
  invalidVerifyToken: (expired = false) => expired
    ? error('ERR_VERIFY_TOKEN_EXPIRED', 'The verification link expired; ask for a new one')
    : error('ERR_VERIFY_TOKEN_INVALID', 'The verification link is invalid'),
  /** Demoting, disabling or deleting the only enabled administrator would leave nobody to administer the service. */
  lastAdmin: () => error('ERR_LAST_ADMIN', 'This change would leave no active administrator; make another account an enabled administrator first'),
  userNotFound: (detail = 'No user has this id') => error('ERR_USER_NOT_FOUND', detail),
  /** A wrong, expired or already used TOTP code, or an unknown or used recovery code: one answer for all. */
  mfaCodeInvalid: () => error('ERR_MFA_CODE_INVALID', 'The code is wrong, expired or already used'),
  /** The mfaToken is not one we issued, expired, or its sign-in already finished (or the account changed since). */
  mfaTokenInvalid: (detail = 'The mfaToken is invalid, expired or already used; log in again') => error('ERR_MFA_TOKEN_INVALID', detail),
  mfaAlreadyEnabled: () => error('ERR_MFA_ALREADY_ENABLED', 'Two-factor sign-in is already on; turn it off first to enrol another authenticator'),
  mfaNotEnabled: () => error('ERR_MFA_NOT_ENABLED', 'Two-factor sign-in is not on for this account'),
  mfaNotPending: () => error('ERR_MFA_NOT_PENDING', 'No enrolment is waiting for confirmation; start one with POST /v1/me/mfa/totp')
} as const
