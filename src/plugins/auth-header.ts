// The access token from `Authorization: Bearer …` (RFC 6750 §2.1) or `Authorization: DPoP …` (RFC 9449 §7.1), or the
// problem that says why there is none; and what a DPoP proof is checked against (the request's method, URL, headers).
import type { FastifyRequest } from 'fastify'
import { Problems } from '../lib/problem'
import { targetUri, type ProofRequest } from '../tokens/dpop'

/** RFC 6750 §2.1 b64token, after either scheme. */
const CREDENTIALS = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i
const SCHEME = /^(?:Bearer|DPoP)(?:\s|$)/i

function countHeaders (raw: string[], lowerName: string): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lowerName.length && raw[i].toLowerCase() === lowerName) n++
  return n
}

/** The token text and its scheme only: what it is worth is the verifier's business (src/tokens/verifier.ts). */
export function extractAccessToken (request: FastifyRequest): { scheme: 'Bearer' | 'DPoP', token: string } {
  const header = request.headers.authorization
  const query = request.query as Record<string, unknown> | undefined
  if (query !== undefined && query !== null && typeof query === 'object' && 'access_token' in query) {
    throw Problems.malformedAuthorization('Tokens are accepted only in the Authorization header, not in the query string')
  }
  if (header === undefined || header === '') throw Problems.missingCredentials()
  // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous (RFC 6750 §2).
  if (countHeaders(request.raw.rawHeaders, 'authorization') > 1) throw Problems.malformedAuthorization('Send exactly one Authorization header')
  if (!SCHEME.test(header)) throw Problems.missingCredentials()
  const match = CREDENTIALS.exec(header)
  if (match === null) throw Problems.malformedAuthorization('Expected: Authorization: Bearer <token> (or DPoP <token> with a DPoP proof)')
  return { scheme: match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] }
}

/**
 * What the request's DPoP proof must match: its method, the URL the client used without query (scheme and Host of the
 * request, TRUST_PROXY applied, or EXTERNAL_URL and the path below it behind a proxy) and every DPoP header it carried.
 */
export function proofRequest (request: FastifyRequest, externalUrl: URL | undefined): ProofRequest {
  const path = request.url.split('?', 1)[0]
  const base = externalUrl === undefined ? `${request.protocol}://${request.host}` : externalUrl.origin + externalUrl.pathname.replace(/\/+$/, '')
  const raw = request.raw.rawHeaders
  const proofs: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'dpop') proofs.push(raw[i + 1])
  return { method: request.method, htu: targetUri(base + path) ?? '', proofs }
}
