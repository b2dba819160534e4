// RFC 9457 problem details: the error type the HTTP layer answers with, the catalogue of stable codes, and the one
// mapping from a service error (src/errors.ts) to its problem.
import { Errors, type ErrorCode, type FieldError, type RefreshRefusal, type TesseraError } from '../errors'
import type { Role } from '../store/user-store'
import type { PasswordErrorCode } from './password-policy'
import { DPOP_ALGS, DpopError, type DpopReason, type ProofSite } from '../tokens/dpop'
import type { TokenError, TokenReason } from '../tokens/token-error'
import type { TokenKind } from '../tokens/token-kinds'

export type { FieldError }

/**
 * Every `code` Tessera answers with. The Problem schema publishes this list as an enum, so a client generated
 * from openapi.yaml gets `code` as a union and a typo in `error.code === 'ERR_…'` fails to compile. A code
 * missing here is a type error wherever it is thrown, so the document cannot fall behind the code.
 */
export const PROBLEM_CODES = [
  'ERR_ACCOUNT_DISABLED', 'ERR_AUTH_MALFORMED', 'ERR_AUTH_REQUIRED', 'ERR_BAD_REQUEST', 'ERR_EMAIL_TAKEN', 'ERR_FORBIDDEN',
  'ERR_DPOP_NONCE_REQUIRED', 'ERR_DPOP_PROOF_INVALID',
  'ERR_EMAIL_ALREADY_VERIFIED', 'ERR_EMAIL_NOT_VERIFIED', 'ERR_RESET_TOKEN_EXPIRED', 'ERR_RESET_TOKEN_INVALID',
  'ERR_VERIFY_TOKEN_EXPIRED', 'ERR_VERIFY_TOKEN_INVALID',
  'ERR_HEADERS_TOO_LARGE', 'ERR_INTERNAL', 'ERR_INVALID_CREDENTIALS', 'ERR_LAST_ADMIN', 'ERR_MALFORMED_JSON', 'ERR_NOT_FOUND',
  'ERR_MFA_ALREADY_ENABLED', 'ERR_MFA_CODE_INVALID', 'ERR_MFA_NOT_ENABLED', 'ERR_MFA_NOT_PENDING', 'ERR_MFA_TOKEN_INVALID',
  'ERR_PASSWORD_COMMON', 'ERR_PASSWORD_MALFORMED', 'ERR_PASSWORD_TOO_LONG', 'ERR_PASSWORD_TOO_SHORT', 'ERR_PAYLOAD_TOO_LARGE',
  'ERR_RATE_LIMITED', 'ERR_REFRESH_TOKEN_EXPIRED', 'ERR_REFRESH_TOKEN_INVALID', 'ERR_REFRESH_TOKEN_REUSED', 'ERR_REFRESH_TOKEN_REVOKED',
  'ERR_REQUEST_TIMEOUT', 'ERR_SERVICE_UNAVAILABLE', 'ERR_SESSION_EXPIRED', 'ERR_SESSION_NOT_FOUND', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_INVALID',
  'ERR_TOKEN_REVOKED',
  'ERR_UNSUPPORTED_MEDIA_TYPE', 'ERR_USER_NOT_FOUND', 'ERR_VALIDATION', 'ERR_WRONG_PASSWORD'
] as const
export type ProblemCode = typeof PROBLEM_CODES[number]

export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope'
/** RFC 9449 §7.1 and §8: the errors of a DPoP challenge. */
export type DpopChallengeError = 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce'

export interface ProblemInit {
  status: number
  code: ProblemCode
  title: string
  detail?: string
  /** RFC 6750 challenge: null for "no credentials" (bare `Bearer realm=…`). */
  bearer?: { error: BearerError | null, description?: string }
  /** RFC 9449 §7.1 challenge, instead of a Bearer one: `DPoP algs="…", error="…"`. */
  dpop?: { error: DpopChallengeError, description: string }
  headers?: Record<string, string>
  errors?: FieldError[]
}

export class ProblemError extends Error {
  readonly status: number
  readonly code: ProblemCode
  readonly title: string
  readonly detail: string
  readonly bearer: ProblemInit['bearer']
  readonly dpop: ProblemInit['dpop']
  readonly headers: Record<string, string>
  readonly errors: FieldError[] | undefined

  constructor (init: ProblemInit, options?: { cause?: unknown }) {
    super(init.detail ?? init.title, options)
    this.status = init.status
    this.code = init.code
    this.title = init.title
    this.detail = init.detail ?? init.title
    this.bearer = init.bearer
    this.dpop = init.dpop
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
  /** The request's X-Request-Id, so a bug report leads to the log lines. */
  requestId?: string
}

/** A stable, dereferenceable-looking type URI per code (RFC 9457 §3.1.1). */
export const problemType = (code: string): string =>
  'urn:tessera:problem:' + code.replace(/^ERR_/, '').toLowerCase().replaceAll('_', '-')

export function problemBody (p: ProblemError, requestId?: string): ProblemBody {
  const body: ProblemBody = { type: problemType(p.code), title: p.title, status: p.status, detail: p.detail, code: p.code }
  if (p.errors !== undefined) body.errors = p.errors
  if (requestId !== undefined) body.requestId = requestId
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

/** The RFC 9449 §7.1 `WWW-Authenticate` value: the algorithms a proof may use, and what failed. */
export function dpopChallenge (dpop: NonNullable<ProblemInit['dpop']>): string {
  return `DPoP algs="${DPOP_ALGS.join(' ')}", error="${dpop.error}", error_description="${dpop.description.replaceAll('"', "'")}"`
}

const bearerProblem = (code: ProblemCode, description: string): ProblemError => new ProblemError({
  status: 401, code, title: 'Invalid token', detail: description, bearer: { error: 'invalid_token', description }
})

/**
 * How each service error is answered. Keyed by every ErrorCode (a code left out is a type error), and only
 * by codes the problem catalogue has (a code it lacks is one too).
 */
const ANSWERS: Record<ErrorCode, { status: number, title: string }> = {
  ERR_ACCOUNT_DISABLED: { status: 403, title: 'Account disabled' },
  ERR_EMAIL_ALREADY_VERIFIED: { status: 409, title: 'Email already verified' },
  /** Only after the right password (REQUIRE_VERIFIED_EMAIL), like a disabled account. */
  ERR_EMAIL_NOT_VERIFIED: { status: 403, title: 'Email not verified' },
  ERR_EMAIL_TAKEN: { status: 409, title: 'Email already registered' },
  ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ERR_INVALID_CREDENTIALS: { status: 401, title: 'Invalid credentials' },
  ERR_LAST_ADMIN: { status: 409, title: 'Last administrator' },
  /**
   * 401 without a challenge, like a refused refresh token: the code and the mfaToken travel in the body, and the
   * access token of a Bearer route that takes a code is fine (a client must not refresh it and retry).
   */
  ERR_MFA_CODE_INVALID: { status: 401, title: 'Invalid code' },
  ERR_MFA_TOKEN_INVALID: { status: 401, title: 'Invalid mfaToken' },
  ERR_MFA_ALREADY_ENABLED: { status: 409, title: 'Two-factor sign-in already on' },
  ERR_MFA_NOT_ENABLED: { status: 409, title: 'Two-factor sign-in not on' },
  ERR_MFA_NOT_PENDING: { status: 409, title: 'No enrolment pending' },
  ERR_PASSWORD_COMMON: { status: 400, title: 'Password refused' },
  ERR_PASSWORD_MALFORMED: { status: 400, title: 'Password refused' },
  ERR_PASSWORD_TOO_LONG: { status: 400, title: 'Password refused' },
  ERR_PASSWORD_TOO_SHORT: { status: 400, title: 'Password refused' },
  ERR_REFRESH_TOKEN_EXPIRED: { status: 401, title: 'Invalid refresh token' },
  ERR_REFRESH_TOKEN_INVALID: { status: 401, title: 'Invalid refresh token' },
  ERR_REFRESH_TOKEN_REVOKED: { status: 401, title: 'Invalid refresh token' },
  ERR_REFRESH_TOKEN_REUSED: { status: 401, title: 'Invalid refresh token' },
  /**
   * Emailed link tokens travel in the body, not in Authorization: a bad one is a 400 (as RFC 6749 §5.2
   * answers a bad grant), so clients do not take it for a dead session.
   */
  ERR_RESET_TOKEN_EXPIRED: { status: 400, title: 'Invalid reset link' },
  ERR_RESET_TOKEN_INVALID: { status: 400, title: 'Invalid reset link' },
  ERR_SESSION_EXPIRED: { status: 401, title: 'Invalid refresh token' },
  /** An unknown id, another user's session, or one that has already ended: the answer does not say which. */
  ERR_SESSION_NOT_FOUND: { status: 404, title: 'Session not found' },
  ERR_TOKEN_INVALID: { status: 401, title: 'Invalid token' },
  ERR_USER_NOT_FOUND: { status: 404, title: 'User not found' },
  ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  ERR_VERIFY_TOKEN_EXPIRED: { status: 400, title: 'Invalid verification link' },
  ERR_VERIFY_TOKEN_INVALID: { status: 400, title: 'Invalid verification link' },
  /** 403, not 401: the token is fine, and a 401 would send clients into refresh-and-retry. */
  ERR_WRONG_PASSWORD: { status: 403, title: 'Wrong password' }
}

/**
 * The one mapping from a service error to its answer. An access token that names nothing usable gets the RFC 6750
 * invalid_token challenge, a missing role insufficient_scope; a refused refresh token (it travels in the body) none,
 * and always 401, whatever the reason.
 */
export function problemFor (err: TesseraError): ProblemError {
  const { code, detail } = err
  if (code === 'ERR_TOKEN_INVALID') return bearerProblem(code, detail)
  const { status, title } = err.refusesRefreshToken ? { status: 401, title: 'Invalid refresh token' } : ANSWERS[code]
  return new ProblemError({
    status,
    code,
    title,
    detail,
    ...(err.errors !== undefined ? { errors: err.errors } : {}),
    ...(err.requiredRole !== undefined ? { bearer: { error: 'insufficient_scope' as const, description: `requires role ${err.requiredRole}` } } : {})
  }, { cause: err })
}

/** Every problem Tessera answers with: the HTTP layer's own, and each service error as problemFor answers it. */
export const Problems = {
  missingCredentials: () => new ProblemError({
    status: 401, code: 'ERR_AUTH_REQUIRED', title: 'Authentication required',
    detail: 'Send an access token in the Authorization header: Bearer <token>', bearer: { error: null }
  }),
  malformedAuthorization: (detail: string) => new ProblemError({
    status: 400, code: 'ERR_AUTH_MALFORMED', title: 'Malformed Authorization header', detail,
    bearer: { error: 'invalid_request', description: detail }
  }),
  invalidToken: (description?: string) => problemFor(Errors.invalidToken(description)),
  expiredToken: () => bearerProblem('ERR_TOKEN_EXPIRED', 'The access token expired'),
  /** REVOCATION_MODE=hybrid: logged out (this device or everywhere), password changed, account disabled or deleted. */
  revokedToken: () => bearerProblem('ERR_TOKEN_REVOKED', 'The session was revoked'),
  /** An access token issued before sessions were recorded names none, so it cannot log one out; a refresh gives one that does. */
  sessionlessToken: () => problemFor(Errors.sessionlessToken()),
  insufficientScope: (role: Role) => problemFor(Errors.roleRequired(role)),
  invalidRefreshToken: (code?: RefreshRefusal, detail?: string) => problemFor(Errors.invalidRefreshToken(code, detail)),
  invalidCredentials: () => problemFor(Errors.invalidCredentials()),
  wrongPassword: () => problemFor(Errors.wrongPassword()),
  accountDisabled: () => problemFor(Errors.accountDisabled()),
  emailNotVerified: () => problemFor(Errors.emailNotVerified()),
  emailAlreadyVerified: () => problemFor(Errors.emailAlreadyVerified()),
  invalidResetToken: (expired = false) => problemFor(Errors.invalidResetToken(expired)),
  invalidVerifyToken: (expired = false) => problemFor(Errors.invalidVerifyToken(expired)),
  emailTaken: () => problemFor(Errors.emailTaken()),
  weakPassword: (code: PasswordErrorCode, detail: string, path = '/password') => problemFor(Errors.weakPassword(code, detail, path)),
  validation: (errors: FieldError[], detail = 'The request is invalid') => problemFor(Errors.validation(errors, detail)),
  lastAdmin: () => problemFor(Errors.lastAdmin()),
  userNotFound: () => problemFor(Errors.userNotFound()),
  refreshTokenReused: () => problemFor(Errors.refreshTokenReused()),
  sessionNotFound: () => problemFor(Errors.sessionNotFound()),
  /** A refused DPoP proof or binding (src/tokens/dpop.ts): 400 at a token endpoint, 401 with a DPoP challenge elsewhere. */
  dpop: (reason: DpopReason, site: ProofSite) => dpopProblem(new DpopError(reason, site)),
  mfaCodeInvalid: () => problemFor(Errors.mfaCodeInvalid()),
  mfaTokenInvalid: (detail?: string) => problemFor(Errors.mfaTokenInvalid(detail)),
  mfaAlreadyEnabled: () => problemFor(Errors.mfaAlreadyEnabled()),
  mfaNotEnabled: () => problemFor(Errors.mfaNotEnabled()),
  mfaNotPending: () => problemFor(Errors.mfaNotPending()),
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
  /** After SIGTERM, on a connection opened before it: this instance is going away, another one answers the retry. */
  draining: (retryAfterSeconds = 1) => new ProblemError({
    status: 503, code: 'ERR_SERVICE_UNAVAILABLE', title: 'Service unavailable',
    detail: 'This server is shutting down; retry on a new connection',
    headers: { 'retry-after': String(retryAfterSeconds), connection: 'close' }
  }),
  internal: () => new ProblemError({ status: 500, code: 'ERR_INTERNAL', title: 'Internal server error', detail: 'An unexpected error occurred' })
} as const

/** The error_description of a refused access token: says what failed, never echoes the token or a library's message. */
const ACCESS_TOKEN_DETAILS: Readonly<Record<TokenReason, string>> = {
  'too-long': 'The access token is too long',
  malformed: 'The token is not a well-formed JWS (three canonical base64url segments, JSON header and claims)',
  'unknown-key': 'The token is signed with an unknown or retired key',
  'bad-signature': 'The token signature is missing or invalid',
  'wrong-type': 'The token has the wrong type',
  'bad-claims': 'The token claims are invalid',
  expired: 'The access token expired',
  'not-yet-valid': 'The token is not valid yet'
}

/**
 * The answer to a refused token, by kind. Access tokens (Authorization header): 401 with an invalid_token
 * challenge. Refresh tokens (body): 401 without one. Link tokens (body): 400. Only "expired" has a code of its
 * own, so a client knows to ask for a new token rather than give up.
 */
const TOKEN_PROBLEMS: Readonly<Record<TokenKind, (reason: TokenReason) => ProblemError>> = {
  access: (reason) => reason === 'expired' ? Problems.expiredToken() : Problems.invalidToken(ACCESS_TOKEN_DETAILS[reason]),
  refresh: (reason) => reason === 'expired'
    ? Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_EXPIRED', 'The refresh token expired')
    : Problems.invalidRefreshToken(),
  reset: (reason) => Problems.invalidResetToken(reason === 'expired'),
  verify: (reason) => Problems.invalidVerifyToken(reason === 'expired'),
  // Expired or not, the answer is the same: either way the user logs in again.
  mfa: (reason) => Problems.mfaTokenInvalid(reason === 'expired' ? 'The mfaToken expired; log in again' : undefined)
}

/** The problem a TokenError (src/tokens/verifier.ts) is answered with. */
export const tokenProblem = (err: TokenError): ProblemError => TOKEN_PROBLEMS[err.kind](err.reason)

/** The error_description of a refused DPoP proof or binding: what failed, never the proof or a library's message. */
const DPOP_DETAILS: Readonly<Record<DpopReason, string>> = {
  missing: 'Send a DPoP proof in the DPoP header',
  multiple: 'Send exactly one DPoP header',
  'too-long': 'The DPoP proof is too long',
  malformed: 'The DPoP proof is not a well-formed JWT with a public jwk, jti, htm, htu and iat',
  'wrong-type': 'The DPoP proof must have typ dpop+jwt',
  'bad-alg': `The DPoP proof must be signed with one of ${DPOP_ALGS.join(', ')}`,
  'private-key': 'The DPoP proof jwk must be a public key',
  'bad-signature': 'The DPoP proof signature does not match its jwk',
  htm: 'The DPoP proof htm does not match the request method',
  htu: 'The DPoP proof htu does not match the request URL (scheme, host and path, without query or fragment)',
  stale: 'The DPoP proof is too old (iat)',
  future: 'The DPoP proof is dated in the future (iat)',
  replayed: 'The DPoP proof was used already (jti)',
  ath: 'The DPoP proof ath does not match the access token',
  'wrong-key': 'The DPoP proof is signed by another key than the one the token is bound to',
  'use-nonce': 'Make the DPoP proof again with the nonce of the DPoP-Nonce header',
  'bound-as-bearer': 'The token is bound to a DPoP key: send it as Authorization: DPoP <token>, with a proof',
  'unbound-as-dpop': 'The token is not bound to a key: send it as Authorization: Bearer <token>',
  'dpop-required': 'This server accepts DPoP-bound tokens only: send a DPoP proof'
}

/** Refusals about how a token is presented rather than about the proof: RFC 9449 §7.1 calls them invalid_token. */
const TOKEN_LEVEL: ReadonlySet<DpopReason> = new Set(['bound-as-bearer', 'unbound-as-dpop', 'dpop-required'])

/**
 * The answer to a refused DPoP proof (src/tokens/dpop.ts). At a token endpoint 400, as RFC 9449 §5 answers
 * invalid_dpop_proof and use_dpop_nonce there; at a protected resource 401 with a DPoP challenge (§7.1). A nonce
 * refusal carries the nonce to use in DPoP-Nonce (§8).
 */
export function dpopProblem (err: DpopError): ProblemError {
  const description = DPOP_DETAILS[err.reason]
  const code: ProblemCode = err.reason === 'use-nonce' ? 'ERR_DPOP_NONCE_REQUIRED' : 'ERR_DPOP_PROOF_INVALID'
  const headers = err.nonce !== undefined ? { 'dpop-nonce': err.nonce } : undefined
  const title = err.reason === 'use-nonce' ? 'DPoP nonce required' : 'Invalid DPoP proof'
  if (err.site === 'token') return new ProblemError({ status: 400, code, title, detail: description, ...(headers !== undefined ? { headers } : {}) })
  const error: DpopChallengeError = err.reason === 'use-nonce' ? 'use_dpop_nonce' : TOKEN_LEVEL.has(err.reason) ? 'invalid_token' : 'invalid_dpop_proof'
  return new ProblemError({ status: 401, code, title, detail: description, dpop: { error, description }, ...(headers !== undefined ? { headers } : {}) })
}
