// RFC 9457 problem details: the one error type routes throw, and the catalogue of stable codes.

export interface FieldError { path: string, message: string }

/**
 * Every `code` Tessera answers with. The Problem schema publishes this list as an enum, so a client generated
 * from openapi.yaml gets `code` as a union and a typo in `error.code === 'ERR_…'` fails to compile. A code
 * missing here is a type error wherever it is thrown, so the document cannot fall behind the code.
 */
export const PROBLEM_CODES = [
  'ERR_ACCOUNT_DISABLED', 'ERR_AUTH_MALFORMED', 'ERR_AUTH_REQUIRED', 'ERR_BAD_REQUEST', 'ERR_EMAIL_TAKEN', 'ERR_FORBIDDEN',
  'ERR_EMAIL_ALREADY_VERIFIED', 'ERR_EMAIL_NOT_VERIFIED', 'ERR_RESET_TOKEN_EXPIRED', 'ERR_RESET_TOKEN_INVALID',
  'ERR_VERIFY_TOKEN_EXPIRED', 'ERR_VERIFY_TOKEN_INVALID',
  'ERR_HEADERS_TOO_LARGE', 'ERR_INTERNAL', 'ERR_INVALID_CREDENTIALS', 'ERR_LAST_ADMIN', 'ERR_MALFORMED_JSON', 'ERR_NOT_FOUND',
  'ERR_PASSWORD_COMMON', 'ERR_PASSWORD_MALFORMED', 'ERR_PASSWORD_TOO_LONG', 'ERR_PASSWORD_TOO_SHORT', 'ERR_PAYLOAD_TOO_LARGE',
  'ERR_RATE_LIMITED', 'ERR_REFRESH_TOKEN_EXPIRED', 'ERR_REFRESH_TOKEN_INVALID', 'ERR_REFRESH_TOKEN_REUSED', 'ERR_REFRESH_TOKEN_REVOKED',
  'ERR_REQUEST_TIMEOUT', 'ERR_SERVICE_UNAVAILABLE', 'ERR_SESSION_EXPIRED', 'ERR_SESSION_NOT_FOUND', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_INVALID',
  'ERR_TOKEN_REVOKED',
  'ERR_UNSUPPORTED_MEDIA_TYPE', 'ERR_USER_NOT_FOUND', 'ERR_VALIDATION', 'ERR_WRONG_PASSWORD'
] as const
export type ProblemCode = typeof PROBLEM_CODES[number]

export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope'

export interface ProblemInit {
  status: number
  code: ProblemCode
  title: string
  detail?: string
  /** RFC 6750 challenge: null for "no credentials" (bare `Bearer realm=…`). */
  bearer?: { error: BearerError | null, description?: string }
  headers?: Record<string, string>
  errors?: FieldError[]
}

export class ProblemError extends Error {
  readonly status: number
  readonly code: ProblemCode
  readonly title: string
  readonly detail: string
  readonly bearer: ProblemInit['bearer']
  readonly headers: Record<string, string>
  readonly errors: FieldError[] | undefined

  constructor (init: ProblemInit, options?: { cause?: unknown }) {
    super(init.detail ?? init.title, options)
    this.status = init.status
    this.code = init.code
    this.title = init.title
    this.detail = init.detail ?? init.title
    this.bearer = init.bearer
    this.headers = init.headers ?? {}
    this.errors = init.errors
  }
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code: ProblemCode
  errors?: FieldError[]
}

/** A stable, dereferenceable-looking type URI per code (RFC 9457 §3.1.1). */
export const problemType = (code: string): string =>
  'urn:tessera:problem:' + code.replace(/^ERR_/, '').toLowerCase().replaceAll('_', '-')

export function problemBody (p: ProblemError): ProblemBody {
  const body: ProblemBody = { type: problemType(p.code), title: p.title, status: p.status, detail: p.detail, code: p.code }
  if (p.errors !== undefined) body.errors = p.errors
  return body
}

/** The RFC 6750 §3 `WWW-Authenticate` value; descriptions are ours, never a library's. */
export function bearerChallenge (realm: string, bearer: NonNullable<ProblemInit['bearer']>): string {
  let value = `Bearer realm="${realm}"`
  if (bearer.error !== null) {
    value += `, error="${bearer.error}"`
    if (bearer.description !== undefined) value += `, error_description="${bearer.description.replaceAll('"', "'")}"`
  }
  return value
}

const tokenProblem = (code: ProblemCode, description: string): ProblemError => new ProblemError({
  status: 401, code, title: 'Invalid token', detail: description, bearer: { error: 'invalid_token', description }
})

/** Every problem Tessera answers with, by stable code. */
export const Problems = {
  missingCredentials: () => new ProblemError({
    status: 401, code: 'ERR_AUTH_REQUIRED', title: 'Authentication required',
    detail: 'Send an access token in the Authorization header: Bearer <token>', bearer: { error: null }
  }),
  malformedAuthorization: (detail: string) => new ProblemError({
    status: 400, code: 'ERR_AUTH_MALFORMED', title: 'Malformed Authorization header', detail,
    bearer: { error: 'invalid_request', description: detail }
  }),
  invalidToken: (description = 'The access token is invalid') => tokenProblem('ERR_TOKEN_INVALID', description),
  expiredToken: () => tokenProblem('ERR_TOKEN_EXPIRED', 'The access token expired'),
  /** REVOCATION_MODE=hybrid: logged out (this device or everywhere), password changed, account disabled or deleted. */
  revokedToken: () => tokenProblem('ERR_TOKEN_REVOKED', 'The session was revoked'),
  /** An access token issued before sessions were recorded names none, so it cannot log one out; a refresh gives one that does. */
  sessionlessToken: () => tokenProblem('ERR_TOKEN_INVALID', 'The token carries no session; refresh it'),
  insufficientScope: (role: string) => new ProblemError({
    status: 403, code: 'ERR_FORBIDDEN', title: 'Forbidden', detail: `This operation requires the ${role} role`,
    bearer: { error: 'insufficient_scope', description: `requires role ${role}` }
  }),
  invalidRefreshToken: (code: ProblemCode = 'ERR_REFRESH_TOKEN_INVALID', detail = 'The refresh token is invalid') =>
    new ProblemError({ status: 401, code, title: 'Invalid refresh token', detail }),
  /**
   * A refresh token already exchanged came back after REFRESH_REUSE_GRACE: one of its holders is not the client (RFC 9700
   * §4.14.2). Its session has ended; every refresh token of it is refused from now on, so the user signs in again.
   */
  refreshTokenReused: () => new ProblemError({
    status: 401, code: 'ERR_REFRESH_TOKEN_REUSED', title: 'Invalid refresh token',
    detail: 'This refresh token was already used; the session has been ended for safety. Log in again'
  }),
  /** An unknown id, another user's session, or one that has already ended: the answer does not say which. */
  sessionNotFound: () => new ProblemError({
    status: 404, code: 'ERR_SESSION_NOT_FOUND', title: 'Session not found', detail: 'No active session of this user has this id'
  }),
  invalidCredentials: () => new ProblemError({
    status: 401, code: 'ERR_INVALID_CREDENTIALS', title: 'Invalid credentials', detail: 'The email or password is incorrect'
  }),
  /** 403, not 401: the token is fine, and a 401 would send clients into refresh-and-retry. */
  wrongPassword: () => new ProblemError({
    status: 403, code: 'ERR_WRONG_PASSWORD', title: 'Wrong password', detail: 'The current password is incorrect'
  }),
  accountDisabled: () => new ProblemError({
    status: 403, code: 'ERR_ACCOUNT_DISABLED', title: 'Account disabled', detail: 'This account has been disabled'
  }),
  /** Only after the right password (REQUIRE_VERIFIED_EMAIL), like a disabled account. */
  emailNotVerified: () => new ProblemError({
    status: 403, code: 'ERR_EMAIL_NOT_VERIFIED', title: 'Email not verified',
    detail: 'Verify your email address with the link sent to it, or reset your password, then log in'
  }),
  emailAlreadyVerified: () => new ProblemError({
    status: 409, code: 'ERR_EMAIL_ALREADY_VERIFIED', title: 'Email already verified', detail: 'This email address is already verified'
  }),
  /**
   * Emailed link tokens travel in the body, not in Authorization: a bad one is a 400 (as RFC 6749 §5.2
   * answers a bad grant), so clients do not take it for a dead session.
   */
  invalidResetToken: (expired = false) => new ProblemError(expired
    ? { status: 400, code: 'ERR_RESET_TOKEN_EXPIRED', title: 'Invalid reset link', detail: 'The password reset link expired; ask for a new one' }
    : { status: 400, code: 'ERR_RESET_TOKEN_INVALID', title: 'Invalid reset link', detail: 'The password reset link is invalid or was already used; ask for a new one' }),
  invalidVerifyToken: (expired = false) => new ProblemError(expired
    ? { status: 400, code: 'ERR_VERIFY_TOKEN_EXPIRED', title: 'Invalid verification link', detail: 'The verification link expired; ask for a new one' }
    : { status: 400, code: 'ERR_VERIFY_TOKEN_INVALID', title: 'Invalid verification link', detail: 'The verification link is invalid' }),
  emailTaken: () => new ProblemError({
    status: 409, code: 'ERR_EMAIL_TAKEN', title: 'Email already registered', detail: 'An account with this email already exists'
  }),
  weakPassword: (code: ProblemCode, detail: string, path = '/password') => new ProblemError({
    status: 400, code, title: 'Password refused', detail, errors: [{ path, message: detail }]
  }),
  validation: (errors: FieldError[], detail = 'The request is invalid') => new ProblemError({
    status: 400, code: 'ERR_VALIDATION', title: 'Invalid request', detail, errors
  }),
  /** Demoting, disabling or deleting the only enabled administrator would leave nobody to administer the service. */
  lastAdmin: () => new ProblemError({
    status: 409, code: 'ERR_LAST_ADMIN', title: 'Last administrator',
    detail: 'This change would leave no active administrator; make another account an enabled administrator first'
  }),
  userNotFound: () => new ProblemError({ status: 404, code: 'ERR_USER_NOT_FOUND', title: 'User not found', detail: 'No user has this id' }),
  /** Sent by the server's client-error handler: Node refuses the request before any route runs. */
  headersTooLarge: () => new ProblemError({
    status: 431, code: 'ERR_HEADERS_TOO_LARGE', title: 'Request header fields too large', detail: 'The request headers are too large'
  }),
  notFound: (detail = 'No route matches this method and path') =>
    new ProblemError({ status: 404, code: 'ERR_NOT_FOUND', title: 'Not found', detail }),
  /** Limits run before the handler; `policy` names the limit that is exhausted (a RateLimit-Policy name). */
  rateLimited: (policy: string, retryAfterSeconds: number) => new ProblemError({
    status: 429, code: 'ERR_RATE_LIMITED', title: 'Too many requests',
    detail: `Too many requests (${policy}); retry in ${retryAfterSeconds} s`, headers: { 'retry-after': String(retryAfterSeconds) }
  }),
  malformedJson: () => new ProblemError({ status: 400, code: 'ERR_MALFORMED_JSON', title: 'Malformed JSON', detail: 'The body is not valid JSON' }),
  payloadTooLarge: () => new ProblemError({ status: 413, code: 'ERR_PAYLOAD_TOO_LARGE', title: 'Payload too large', detail: 'The request body is too large' }),
  unsupportedMediaType: () => new ProblemError({
    status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE', title: 'Unsupported media type', detail: 'Send the body as application/json'
  }),
  storeUnavailable: (retryAfterSeconds = 5) => new ProblemError({
    status: 503, code: 'ERR_SERVICE_UNAVAILABLE', title: 'Service unavailable',
    detail: 'The user store cannot be reached; try again shortly', headers: { 'retry-after': String(retryAfterSeconds) }
  }),
  internal: () => new ProblemError({ status: 500, code: 'ERR_INTERNAL', title: 'Internal server error', detail: 'An unexpected error occurred' })
} as const
