// RFC 9457 problem details: the one error type routes throw, and the catalogue of stable codes.

export interface FieldError { path: string, message: string }

export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope'

export interface ProblemInit {
  status: number
  code: string
  title: string
  detail?: string
  /** RFC 6750 challenge: null for "no credentials" (bare `Bearer realm=…`). */
  bearer?: { error: BearerError | null, description?: string }
  headers?: Record<string, string>
  errors?: FieldError[]
}

export class ProblemError extends Error {
  readonly status: number
  readonly code: string
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
  code: string
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

const tokenProblem = (code: string, description: string): ProblemError => new ProblemError({
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
  insufficientScope: (role: string) => new ProblemError({
    status: 403, code: 'ERR_FORBIDDEN', title: 'Forbidden', detail: `This operation requires the ${role} role`,
    bearer: { error: 'insufficient_scope', description: `requires role ${role}` }
  }),
  invalidRefreshToken: (code = 'ERR_REFRESH_TOKEN_INVALID', detail = 'The refresh token is invalid') =>
    new ProblemError({ status: 401, code, title: 'Invalid refresh token', detail }),
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
  emailTaken: () => new ProblemError({
    status: 409, code: 'ERR_EMAIL_TAKEN', title: 'Email already registered', detail: 'An account with this email already exists'
  }),
  weakPassword: (code: string, detail: string, path = '/password') => new ProblemError({
    status: 400, code, title: 'Password refused', detail, errors: [{ path, message: detail }]
  }),
  validation: (errors: FieldError[], detail = 'The request is invalid') => new ProblemError({
    status: 400, code: 'ERR_VALIDATION', title: 'Invalid request', detail, errors
  }),
  userNotFound: () => new ProblemError({ status: 404, code: 'ERR_USER_NOT_FOUND', title: 'User not found', detail: 'No user has this id' }),
  notFound: (detail = 'No route matches this method and path') =>
    new ProblemError({ status: 404, code: 'ERR_NOT_FOUND', title: 'Not found', detail }),
  storeUnavailable: (retryAfterSeconds = 5) => new ProblemError({
    status: 503, code: 'ERR_SERVICE_UNAVAILABLE', title: 'Service unavailable',
    detail: 'The user store cannot be reached; try again shortly', headers: { 'retry-after': String(retryAfterSeconds) }
  }),
  internal: () => new ProblemError({ status: 500, code: 'ERR_INTERNAL', title: 'Internal server error', detail: 'An unexpected error occurred' })
} as const
