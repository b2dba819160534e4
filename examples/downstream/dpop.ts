// DPoP (RFC 9449 §7) for a service that accepts Tessera's access tokens: copy this file next to your token check.
// After the token's signature and claims are verified, checkDpop says whether this request may use it: a token bound
// to a key (`cnf.jkt`) only with `Authorization: DPoP <token>` and a fresh proof from that key for this very request,
// an unbound one only as Bearer. It needs `jose` (npm i jose), which does the JWS and thumbprint work.
import { createHash } from 'node:crypto'

/** Asymmetric algorithms only: a proof signed with `none` or a MAC proves nothing. */
export const DPOP_ALGS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'RS256', 'PS256']
const MAX_AGE_S = 60
const CLOCK_TOLERANCE_S = 30

export interface DpopRequest {
  scheme: 'Bearer' | 'DPoP'
  /** The access token as sent, after your own verification of it succeeded. */
  token: string
  /** Its verified claims. */
  claims: { cnf?: { jkt?: unknown } }
  method: string
  /** The URL the client used, without query: scheme://host[:port]/path (your public URL behind a proxy). */
  url: string
  /** Every DPoP header of the request. */
  proofs: string[]
}

/**
 * Remembers proof ids until they are too old to pass anyway, so a proof is used once. Bounded: past `max` entries the
 * oldest go first. Several instances of a service each keep their own (share one through Redis SET NX if you need to).
 */
export function replayGuard (max = 100_000): (id: string, until: number) => boolean {
  const seen = new Map<string, number>()
  return (id, until) => {
    const now = Date.now() / 1000
    const known = seen.get(id)
    if (known !== undefined && known >= now) return false
    seen.delete(id)
    seen.set(id, until)
    if (seen.size > max) seen.delete(seen.keys().next().value as string)
    return true
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** scheme://host[:port]/path, normalised; null for anything with user info or another scheme. */
function target (value: string): string | null {
  if (!URL.canParse(value) || /^[^:]+:\/*[^/?#]*@/.test(value)) return null
  const url = new URL(value)
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin + url.pathname : null
}

/** Null when the request may use the token; otherwise why not (an error_description for a DPoP challenge). */
export async function checkDpop (request: DpopRequest, firstUse: (id: string, until: number) => boolean): Promise<string | null> {
  const jkt = request.claims.cnf?.jkt
  if (jkt === undefined) return request.scheme === 'Bearer' ? null : 'The token is not bound to a key: send it as Bearer'
  if (request.scheme !== 'DPoP') return 'The token is bound to a key: send it as DPoP, with a proof'
  if (request.proofs.length !== 1 || request.proofs[0].includes(',') || request.proofs[0].length > 4096) return 'Send exactly one DPoP proof'
  const { jwtVerify, EmbeddedJWK, calculateJwkThumbprint } = await import('jose')
  let payload: Record<string, unknown>
  let jwk: unknown
  try {
    // EmbeddedJWK: verified with the proof's own public key (a private one is refused); iat within the age and tolerance.
    const verified = await jwtVerify(request.proofs[0], EmbeddedJWK, {
      typ: 'dpop+jwt', algorithms: DPOP_ALGS, maxTokenAge: MAX_AGE_S, clockTolerance: CLOCK_TOLERANCE_S, requiredClaims: ['iat', 'jti']
    })
    payload = verified.payload
    jwk = verified.protectedHeader.jwk
  } catch {
    return 'The DPoP proof is invalid or too old'
  }
  if (payload.htm !== request.method) return 'The DPoP proof is for another method'
  if (typeof payload.htu !== 'string' || /[?#]/.test(payload.htu) || target(payload.htu) !== target(request.url)) return 'The DPoP proof is for another URL'
  if (payload.ath !== sha256(request.token)) return 'The DPoP proof is for another token'
  const thumbprint = await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0], 'sha256')
  if (thumbprint !== jkt) return 'The DPoP proof is signed by another key than the token is bound to'
  if (!firstUse(`${thumbprint}.${String(payload.jti)}`, Number(payload.iat) + MAX_AGE_S + CLOCK_TOLERANCE_S)) return 'The DPoP proof was used already'
  return null
}
