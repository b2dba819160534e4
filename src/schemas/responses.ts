// Response-schema builders shared by the routes, so every status is documented the same way.
import { Type, type TSchema } from '@sinclair/typebox'
import { PROBLEM_CONTENT_TYPE } from './problem'

type Headers = Record<string, TSchema>

const WWW_AUTHENTICATE = Type.String({ description: 'RFC 6750 Bearer challenge, e.g. Bearer realm="tessera", error="invalid_token"' })
const RETRY_AFTER = Type.String({ description: 'Seconds to wait before retrying' })
const RATE_LIMIT_HEADERS: Headers = {
  'retry-after': RETRY_AFTER,
  ratelimit: Type.String({ description: 'IETF RateLimit: per policy, requests remaining (r) and seconds to reset (t), e.g. "login-ip";r=0;t=540' }),
  'ratelimit-policy': Type.String({ description: 'IETF RateLimit-Policy: per policy, quota (q) and window in seconds (w), e.g. "login-ip";q=100;w=900' })
}

export const problemResponse = (description: string, headers?: Headers) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') } },
  ...(headers !== undefined ? { headers } : {})
})

/**
 * A schema registered with `addSchema` (it has an `$id`: User, AuthResult) is referenced, not inlined,
 * so the document names it `#/components/schemas/<id>` and generated clients share one type.
 */
const referenced = (schema: TSchema): TSchema => typeof schema.$id === 'string' ? Type.Ref(schema.$id) : schema

export const jsonResponse = (schema: TSchema, description: string, headers?: Headers) => ({
  description,
  content: { 'application/json': { schema: referenced(schema) } },
  ...(headers !== undefined ? { headers } : {})
})

export const noContent = (description: string) => ({ type: 'null', description })

const noStore = (why: string): Headers => ({ 'cache-control': Type.String({ description: `no-store: ${why}` }) })
export const tokenResponse = (schema: TSchema, description: string) => jsonResponse(schema, description, noStore('the body carries tokens'))
/** An account or a list of them: sent with no-store (src/routes/no-store.ts). */
export const personalResponse = (schema: TSchema, description: string) =>
  jsonResponse(schema, description, noStore('the body carries personal data'))

/** Problems every route can answer with. */
export const commonProblems = {
  500: problemResponse('Unexpected error (no internals are shown)')
}

/** Problems of routes that read a JSON body. */
export const bodyProblems = {
  400: problemResponse('Invalid body (problem `errors` lists each field)'),
  413: problemResponse('Body too large'),
  415: problemResponse('Content-Type must be application/json'),
  ...commonProblems
}

/** Problems of routes guarded by the Bearer hook. */
export const bearerProblems = {
  400: problemResponse('Malformed Authorization header (error="invalid_request") or invalid body', { 'www-authenticate': WWW_AUTHENTICATE }),
  401: problemResponse('Missing, invalid or expired access token', { 'www-authenticate': WWW_AUTHENTICATE }),
  ...commonProblems
}

/** The administration routes check the caller's current account, not only the token's role claim. */
export const forbiddenProblem = {
  403: problemResponse(
    'The token lacks the admin role, or the caller\'s account is no longer an administrator (ERR_FORBIDDEN, error="insufficient_scope") ' +
    'or is disabled (ERR_ACCOUNT_DISABLED)',
    { 'www-authenticate': WWW_AUTHENTICATE })
}

export const rateLimited = { 429: problemResponse('Too many requests', RATE_LIMIT_HEADERS) }
export const unavailable = { 503: problemResponse('The user store is unreachable; retry later', { 'retry-after': RETRY_AFTER }) }

/**
 * A fresh array per route: @fastify/swagger keeps the route's own object, and one object shared by
 * several operations is written to openapi.yaml as a YAML anchor and aliases (`&a1` / `*a1`).
 */
export const bearerSecurity = (): Array<{ bearerAuth: string[] }> => [{ bearerAuth: [] }]
