// The one function every token goes through, whatever its kind: each rule below runs for every row of token-kinds.ts.
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import { checkTimes, type AccessClaims } from './claims'
import { isCanonicalCompactJws } from './compact-jws'
import { DpopError, type DpopChecker, type ProofRequest } from './dpop'
import { TokenError, type TokenReason } from './token-error'
import { TOKEN_KINDS, type TokenClaims, type TokenKind, type TokenKindRow, type TokenKindSettings } from './token-kinds'
import { VerifiedTokens } from './verified-tokens'

/** Anything bigger is not a token we issued; refused before decoding (bounded work per request). */
export const MAX_TOKEN_LENGTH = 4096

export interface VerifierSettings extends TokenKindSettings {
  /** CLOCK_TOLERANCE, seconds. */
  clockTolerance: number
  /** JWT_VERIFY_CACHE: entries of the verified-token cache of each cached kind; 0 turns it off. */
  cacheSize: number
}

/** An access token as the Authorization header presented it, and how to read the request's DPoP proof if needed. */
export interface PresentedAccessToken {
  scheme: 'Bearer' | 'DPoP'
  token: string
  /** Built only for the DPoP scheme: the Bearer path reads nothing more of the request. */
  proofRequest: () => ProofRequest
}

/** What the signature engine answers for a token whose key, signature, `typ`, `iss` and `aud` checked out. */
export interface SignedToken { header: { kid?: unknown, alg?: unknown }, payload: unknown }

/** The signature engine for one kind: @fastify/jwt, configured with signatureOptions(kind) (src/plugins/auth.ts). */
export type CheckSignature = (kind: TokenKind, token: string) => Promise<SignedToken>

/** The key ring's lookup failed: no key has this kid, or not for this alg (RFC 8725 §3.1), or it is retired. */
class UnknownKeyError extends Error {}

/**
 * fast-jwt's key callback for every kind: the key the header's kid names, pinned to the header's alg by the
 * key ring. Only the kid picks the key; jwk, jku, x5u and x5c are never read.
 */
export const keyFetcher = (ring: () => KeyRing) =>
  (decoded: { header: { kid?: unknown, alg?: unknown } }, cb: (err: Error | null, key: string) => void): void => {
    const key = ring().verificationKey(decoded.header.kid, decoded.header.alg)
    if (key === undefined) cb(new UnknownKeyError('unknown key'), '')
    else cb(null, key.verifyKey)
  }

/**
 * The fast-jwt verify options of one kind, built the same way for every row: its `typ`, the issuer, its
 * audience, the registered claims required. Dates are left to verify() below, against the injectable clock.
 */
export const signatureOptions = (kind: TokenKind, settings: VerifierSettings) => ({
  complete: true,
  checkTyp: TOKEN_KINDS[kind].typ,
  allowedIss: settings.issuer,
  allowedAud: TOKEN_KINDS[kind].audience(settings),
  requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
  ignoreExpiration: true,
  ignoreNotBefore: true,
  // VerifiedTokens stands in front for the kinds that are cached; fast-jwt's own would cache failures too.
  cache: false as const
})

/** fast-jwt's error codes, by the reason they stand for; any other failure is 'malformed'. */
const ENGINE_REASONS: Readonly<Record<string, TokenReason>> = {
  // Only keyFetcher fails this way.
  FAST_JWT_KEY_FETCHING_ERROR: 'unknown-key',
  FAST_JWT_INVALID_KEY: 'unknown-key',
  FAST_JWT_INVALID_ALGORITHM: 'unknown-key',
  FAST_JWT_INVALID_SIGNATURE: 'bad-signature',
  FAST_JWT_MISSING_SIGNATURE: 'bad-signature',
  FAST_JWT_INVALID_TYPE: 'wrong-type',
  FAST_JWT_INVALID_CLAIM_VALUE: 'bad-claims',
  FAST_JWT_INVALID_CLAIM_TYPE: 'bad-claims',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'bad-claims',
  FAST_JWT_EXPIRED: 'expired',
  FAST_JWT_INACTIVE: 'not-yet-valid'
}

function engineReason (err: unknown): TokenReason {
  const code = (err as { code?: unknown } | null)?.code
  return (typeof code === 'string' ? ENGINE_REASONS[code] : undefined) ?? 'malformed'
}

interface Kind {
  row: TokenKindRow
  cache: VerifiedTokens<unknown> | null
}

export class TokenVerifier {
  private readonly kinds: Record<TokenKind, Kind>

  constructor (
    private readonly checkSignature: CheckSignature,
    ring: () => KeyRing,
    private readonly clock: Clock,
    private readonly settings: VerifierSettings,
    /** DPoP proofs of bound access tokens; absent, a bound token is refused (nothing could check its proof). */
    private readonly dpop?: DpopChecker,
    /** Hears each verified-token cache lookup (metrics); absent, nothing is counted. */
    countCacheLookup?: (kind: TokenKind, hit: boolean) => void
  ) {
    const kind = (name: TokenKind, row: TokenKindRow): Kind => ({
      row,
      cache: row.cached
        ? new VerifiedTokens(settings.cacheSize, ring, countCacheLookup === undefined ? undefined : (hit) => { countCacheLookup(name, hit) })
        : null
    })
    this.kinds = {
      access: kind('access', TOKEN_KINDS.access),
      refresh: kind('refresh', TOKEN_KINDS.refresh),
      reset: kind('reset', TOKEN_KINDS.reset),
      verify: kind('verify', TOKEN_KINDS.verify),
      mfa: kind('mfa', TOKEN_KINDS.mfa)
    }
  }

  /**
   * The claims of `token` as a token of `kind`, or a TokenError. In order: length, then (unless cached) canonical
   * spelling, key and alg, signature, typ, iss, aud and the claims schema, then exp, nbf and iat.
   */
  async verify<K extends TokenKind> (kind: K, token: string): Promise<TokenClaims[K]> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError(kind, 'too-long')
    const { cache } = this.kinds[kind]
    const claims = (cache?.get(token) ?? await this.verifySigned(kind, token)) as TokenClaims[K]
    const verdict = checkTimes(claims, nowSeconds(this.clock), this.settings.clockTolerance)
    if (verdict !== 'ok') {
      cache?.delete(token)
      throw new TokenError(kind, verdict)
    }
    return claims
  }

  /**
   * An access token from the Authorization header, with its binding (RFC 9449 §7): a token bound to a key
   * (`cnf.jkt`) only with the DPoP scheme and a proof from that key for this request and this token, an unbound one
   * only with the Bearer scheme, and none under DPOP=required. Checked after verify(), so a cached token still needs
   * its proof on every request. Answers the claims, and the proof's key thumbprint when there was one.
   */
  async verifyAccess (presented: PresentedAccessToken): Promise<{ claims: AccessClaims, jkt?: string }> {
    const claims = await this.verify('access', presented.token)
    const jkt = claims.cnf?.jkt
    if (presented.scheme === 'Bearer') {
      if (jkt !== undefined) throw new DpopError('bound-as-bearer', 'resource')
      if (this.dpop?.mode === 'required') throw new DpopError('dpop-required', 'resource')
      return { claims }
    }
    if (jkt === undefined) throw new DpopError('unbound-as-dpop', 'resource')
    if (this.dpop === undefined) throw new DpopError('bound-as-bearer', 'resource')
    await this.dpop.check(presented.proofRequest(), 'resource', { accessToken: presented.token, jkt })
    return { claims, jkt }
  }

  private async verifySigned (kind: TokenKind, token: string): Promise<TokenClaims[TokenKind]> {
    // One token, one spelling (compact-jws.ts). Only here, on a cache miss: the cache is keyed by the exact text
    // and holds nothing that did not pass this, so a hit needs no second look.
    if (!isCanonicalCompactJws(token)) throw new TokenError(kind, 'malformed')
    const { row, cache } = this.kinds[kind]
    let signed: SignedToken
    try {
      signed = await this.checkSignature(kind, token)
    } catch (err) {
      throw new TokenError(kind, engineReason(err), { cause: err })
    }
    const { header, payload } = signed
    if (!row.claims.Check(payload)) throw new TokenError(kind, 'bad-claims')
    // keyFetcher only returned a key for a string kid and alg, so these are strings here.
    cache?.set(token, payload, { kid: String(header.kid), alg: String(header.alg) })
    return payload as TokenClaims[TokenKind]
  }
}
