// One row per kind of token Tessera verifies: what sets it apart. Every rule they share is in verifier.ts.
import type { TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import {
  ACCESS_TYP, MFA_TYP, REFRESH_TYP, RESET_TYP, VERIFY_TYP, isAccessClaims, isMfaClaims, isRefreshClaims, isResetClaims, isVerifyClaims,
  mfaAudience, resetAudience, verifyAudience, type AccessClaims, type MfaClaims, type RefreshClaims, type ResetClaims, type VerifyClaims
} from './claims'
/** The claims each kind carries once verified. */
export interface TokenClaims {
  access: AccessClaims
  refresh: RefreshClaims
  reset: ResetClaims
  verify: VerifyClaims
  mfa: MfaClaims
}

export type TokenKind = keyof TokenClaims

/** The configuration a row reads (seconds for TTLs). */
export interface TokenKindSettings {
  issuer: string
  audience: string
  accessTtl: number
  refreshTtl: number
  resetTtl: number
  verifyTtl: number
  /** MFA_TOKEN_TTL. */
  mfaTtl: number
}

export interface TokenKindRow {
  /** The JOSE header `typ` (RFC 8725 §3.11): one per kind, so no kind is taken for another. */
  typ: string
  /** The `aud` this kind must carry (RFC 8725 §3.9, §3.12: mutually exclusive between kinds). */
  audience: (s: TokenKindSettings) => string
  /** Compiled TypeBox check of the claims (src/tokens/claims.ts), run after the signature. */
  claims: TypeCheck<TSchema>
  /** How long a token of this kind lives when issued, in seconds (its issuer's TTL setting). */
  lifetime: (s: TokenKindSettings) => number
  /**
   * Kept in the success-only VerifiedTokens cache (src/tokens/verified-tokens.ts). Only access tokens: they come
   * with every request. Refresh tokens come once per access TTL, and link tokens are used once.
   */
  cached: boolean
}

/**
 * The table. Adding a kind is a row here, its claims type in TokenClaims and its answer in
 * src/lib/problem.ts TOKEN_PROBLEMS; the compiler refuses the kind until all three exist.
 */
export const TOKEN_KINDS: Readonly<Record<TokenKind, TokenKindRow>> = {
  access: { typ: ACCESS_TYP, audience: (s) => s.audience, claims: isAccessClaims, lifetime: (s) => s.accessTtl, cached: true },
  refresh: { typ: REFRESH_TYP, audience: (s) => s.issuer, claims: isRefreshClaims, lifetime: (s) => s.refreshTtl, cached: false },
  reset: { typ: RESET_TYP, audience: (s) => resetAudience(s.issuer), claims: isResetClaims, lifetime: (s) => s.resetTtl, cached: false },
  verify: { typ: VERIFY_TYP, audience: (s) => verifyAudience(s.issuer), claims: isVerifyClaims, lifetime: (s) => s.verifyTtl, cached: false },
  mfa: { typ: MFA_TYP, audience: (s) => mfaAudience(s.issuer), claims: isMfaClaims, lifetime: (s) => s.mfaTtl, cached: false }
}

export const TOKEN_KIND_NAMES = Object.keys(TOKEN_KINDS) as TokenKind[]
