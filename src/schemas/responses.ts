// Response-schema builders shared by the routes, so every status is documented the same way: each problem response
// shows one example per code it answers with, and each response lists the headers it is really sent with.
import { Type, type TSchema } from '@sinclair/typebox'
import { problemBody, Problems, type ProblemError } from '../lib/problem'
import { PROBLEM_CONTENT_TYPE } from './problem'

type Headers = Record<string, TSchema>
interface Response { description: string, headers?: Headers }

const WWW_AUTHENTICATE = Type.String({ description: 'RFC 6750 Bearer challenge, e.g. Bearer realm="tessera", error="invalid_token"' })
const DPOP_NONCE = Type.String({ description: 'DPOP_NONCE=on: the nonce the next DPoP proof must carry (RFC 9449 §8)' })
const RETRY_AFTER = Type.String({ description: 'Seconds to wait before retrying' })
/** Sent by the abuse limits (src/plugins/external/rate-limit.ts) once they counted the request: not when RATE_LIMIT=off, nor on refusals before them. */
const RATE_LIMIT_HEADERS: Headers = {
  ratelimit: Type.String({ description: 'IETF RateLimit: per policy, requests remaining (r) and seconds to reset (t), e.g. "login-ip";r=0;t=540' }),
  'ratelimit-policy': Type.String({ description: 'IETF RateLimit-Policy: per policy, quota (q) and window in seconds (w), e.g. "login-ip";q=100;w=900' })
}

/**
 * Named examples keyed by code: without them, documentation tools show the first value of the `code` enum on every
 * problem. The bodies are made by the same factories the routes throw, so they cannot drift from real answers.
 */
function problemExamples (problems: ProblemError[]): Record<string, { summary: string, value: unknown }> {
  const examples: Record<string, { summary: string, value: unknown }> = {}
  for (const p of problems) {
    if (p.code in examples) throw new Error(`two examples for ${p.code}`)
    examples[p.code] = { summary: p.detail, value: problemBody(p) }
  }
  return examples
}

export const problemResponse = (description: string, problems: ProblemError[], headers?: Headers) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem'), examples: problemExamples(problems) } },
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

/** The responses of a rate-limited route that leave after the limits ran, so they carry RateLimit and RateLimit-Policy. */
export function counted<T extends Record<number, Response>> (responses: T): T {
  return Object.fromEntries(Object.entries(responses).map(([status, response]: [string, Response]) =>
    [status, { ...response, headers: { ...response.headers, ...RATE_LIMIT_HEADERS } }])) as T
}

/** Problem examples the routes share. */
export const ExampleProblems = {
  invalidBody: Problems.validation([{ path: '/email', message: 'must NOT have fewer than 3 characters' }], 'The body is invalid'),
  malformedJson: Problems.malformedJson(),
  /** What the password policy refuses (src/lib/password-policy.ts), one per code. */
  weakPasswords: (path: string) => [
    Problems.weakPassword('ERR_PASSWORD_TOO_SHORT', 'password must be at least 15 characters', path),
    Problems.weakPassword('ERR_PASSWORD_TOO_LONG', 'password must be at most 128 characters', path),
    Problems.weakPassword('ERR_PASSWORD_COMMON', 'password is in a list of commonly used passwords', path),
    Problems.weakPassword('ERR_PASSWORD_MALFORMED', 'password must not contain control characters such as tab or newline', path)
  ],
  malformedAuthorization: Problems.malformedAuthorization('Expected: Authorization: Bearer <token>'),
  /** A token endpoint's refusals of a DPoP proof (RFC 9449 §5). */
  dpopTokenRequest: [Problems.dpop('missing', 'token'), Problems.dpop('use-nonce', 'token')]
}

/** Problems every route can answer with. */
export const commonProblems = {
  500: problemResponse('Unexpected error (no internals are shown)', [Problems.internal()])
}

const tooLarge = { 413: problemResponse('Body too large', [Problems.payloadTooLarge()]) }
const wrongMediaType = { 415: problemResponse('Content-Type must be application/json', [Problems.unsupportedMediaType()]) }

/** Problems of routes that read a JSON body. */
export const bodyProblems = {
  400: problemResponse('Invalid body (problem `errors` lists each field)', [ExampleProblems.invalidBody, ExampleProblems.malformedJson]),
  ...tooLarge,
  ...wrongMediaType,
  ...commonProblems
}

/** The 400 of a Bearer route: a malformed Authorization header, with its challenge, or the `extra` problems of the route. */
export const bearerBadRequest = (description: string, extra: ProblemError[] = []) => ({
  400: problemResponse(description, [ExampleProblems.malformedAuthorization, ...extra], { 'www-authenticate': WWW_AUTHENTICATE })
})

/**
 * The 401 of a Bearer route: the access token's failures, with their challenge, and the `extra` problems of the
 * route, which carry none (the token is fine; a client must not refresh and retry on them).
 */
export const bearerUnauthorized = (
  description = 'Missing, invalid or expired access token (REVOCATION_MODE=hybrid: or revoked), or a DPoP-bound token without a valid proof ' +
    '(a DPoP challenge: DPoP algs="…", error="invalid_dpop_proof", "invalid_token" or "use_dpop_nonce" with a DPoP-Nonce header)',
  extra: ProblemError[] = []
) => ({
  401: problemResponse(description, [
    Problems.missingCredentials(), Problems.invalidToken(), Problems.expiredToken(), Problems.revokedToken(),
    Problems.dpop('wrong-key', 'resource'), Problems.dpop('use-nonce', 'resource'), ...extra
  ], { 'www-authenticate': WWW_AUTHENTICATE, 'dpop-nonce': DPOP_NONCE })
})

/** Problems of routes guarded by the Bearer hook. */
export const bearerProblems = {
  ...bearerBadRequest('Malformed Authorization header (error="invalid_request")'),
  ...bearerUnauthorized(),
  ...commonProblems
}

/** Problems of Bearer routes that read a JSON body. */
export const bearerBodyProblems = {
  ...bearerProblems,
  ...bearerBadRequest('Malformed Authorization header (error="invalid_request") or invalid body', [ExampleProblems.invalidBody, ExampleProblems.malformedJson]),
  ...tooLarge,
  ...wrongMediaType
}

/** The administration routes check the caller's current account, not only the token's role claim. */
export const forbiddenProblem = {
  403: problemResponse(
    'The token lacks the admin role, or the caller\'s account is no longer an administrator (error="insufficient_scope") or is disabled',
    [Problems.insufficientScope('admin'), Problems.accountDisabled()], { 'www-authenticate': WWW_AUTHENTICATE })
}

/** The 400 of a route that issues tokens (DPoP proofs are checked after the limits): a refused body or DPoP proof. */
export const tokenRequestBadRequest = (description: string, extra: ProblemError[]) => ({
  400: problemResponse(description, [...extra, ...ExampleProblems.dpopTokenRequest], { 'dpop-nonce': DPOP_NONCE })
})

export const rateLimited = {
  429: problemResponse('Too many requests', [Problems.rateLimited('login-account', 540)], { 'retry-after': RETRY_AFTER, ...RATE_LIMIT_HEADERS })
}
export const unavailable = {
  503: problemResponse('The user store is unreachable; retry later', [Problems.storeUnavailable()], { 'retry-after': RETRY_AFTER })
}

/**
 * Either scheme: a Bearer token, or a DPoP-bound one with its proof (RFC 9449). A fresh array per route:
 * @fastify/swagger keeps the route's own object, and one object shared by several operations is written to
 * openapi.yaml as a YAML anchor and aliases (`&a1` / `*a1`).
 */
export const bearerSecurity = (): Array<{ bearerAuth: string[] } | { dpopAuth: string[] }> => [{ bearerAuth: [] }, { dpopAuth: [] }]
/** Public operations say so: without `security`, linters and generators cannot tell "public" from "forgotten". */
export const noSecurity = (): never[] => []

/** Every answer of the /v1/me and /v1/users routes, errors included, carries no-store (src/routes/no-store.ts). */
export function personal<T extends Record<number, Response>> (responses: T): T {
  const header = noStore('the answer concerns an account')
  return Object.fromEntries(Object.entries(responses).map(([status, response]: [string, Response]) =>
    [status, { ...response, headers: { ...response.headers, ...header } }])) as T
}
