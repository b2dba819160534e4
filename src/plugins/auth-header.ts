// The access token from `Authorization: Bearer …` (RFC 6750 §2.1), or the problem that says why there is none.
import type { FastifyRequest } from 'fastify'
import { Problems } from '../lib/problem'

/** RFC 6750 §2.1 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i
const SCHEME = /^Bearer(?:\s|$)/i

function countAuthorizationHeaders (raw: string[]): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 13 && raw[i].toLowerCase() === 'authorization') n++
  return n
}

/** The token text only: what it is worth is the verifier's business (src/tokens/verifier.ts). */
export function extractBearer (request: FastifyRequest): string {
  const header = request.headers.authorization
  const query = request.query as Record<string, unknown> | undefined
  if (query !== undefined && query !== null && typeof query === 'object' && 'access_token' in query) {
    throw Problems.malformedAuthorization('Tokens are accepted only in the Authorization header, not in the query string')
  }
  if (header === undefined || header === '') throw Problems.missingCredentials()
  // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous (RFC 6750 §2).
  if (countAuthorizationHeaders(request.raw.rawHeaders) > 1) throw Problems.malformedAuthorization('Send exactly one Authorization header')
  if (!SCHEME.test(header)) throw Problems.missingCredentials()
  const match = BEARER.exec(header)
  if (match === null) throw Problems.malformedAuthorization('Expected: Authorization: Bearer <token>')
  return match[1]
}
