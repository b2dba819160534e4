// The claims of access, refresh and emailed link tokens, checked by compiled TypeBox validators after the signature.
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

export const ACCESS_TYP = 'at+jwt'
export const REFRESH_TYP = 'rt+jwt'
export const RESET_TYP = 'reset+jwt'
export const VERIFY_TYP = 'verify+jwt'

/**
 * Link tokens get audiences of their own (RFC 8725 §3.11/3.12): even a verifier that ignored `typ`
 * would not take one for an access token (JWT_AUDIENCE) or a refresh token (the issuer).
 */
export const resetAudience = (issuer: string): string => `${issuer}/reset`
export const verifyAudience = (issuer: string): string => `${issuer}/verify`

const NumericDate = Type.Integer({ minimum: 0, maximum: 253402300799, description: 'Seconds since the epoch' })

export const AccessClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 })
})
/**
 * REVOCATION_MODE=hybrid adds these to access and refresh tokens: `ver`, the user's token version when the
 * token was issued, and `sid`, the session (one login) the token belongs to. Stateless tokens lack both,
 * and the stateless checker above never looks for them.
 */
export const SessionClaimsSchema = Type.Object({
  ver: Type.Integer({ minimum: 0 }),
  sid: Type.String({ minLength: 16, maxLength: 16, pattern: '^[A-Za-z0-9_-]+$' })
})
export type SessionClaims = Static<typeof SessionClaimsSchema>

export type AccessClaims = Static<typeof AccessClaimsSchema> & Partial<SessionClaims>

export const RefreshClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  ver: Type.Integer({ minimum: 0 }),
  auth_time: NumericDate,
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 })
})
export type RefreshClaims = Static<typeof RefreshClaimsSchema> & { sid?: string }

/** Password reset: `ver` and `pwd` pin the token to the account's state when it was mailed, so it works once. */
export const ResetClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  ver: Type.Integer({ minimum: 0 }),
  pwd: Type.String({ minLength: 22, maxLength: 22, description: 'base64url of the first 16 bytes of SHA-256(password hash)' }),
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 })
})
export type ResetClaims = Static<typeof ResetClaimsSchema>

/** Email verification: `email` is the address it proves, so a changed address makes it worthless. */
export const VerifyClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  email: Type.String({ minLength: 3, maxLength: 320 }),
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 })
})
export type VerifyClaims = Static<typeof VerifyClaimsSchema>

export const isAccessClaims = TypeCompiler.Compile(AccessClaimsSchema)
export const isRefreshClaims = TypeCompiler.Compile(RefreshClaimsSchema)
/** Hybrid mode only, after isAccessClaims: the session claims an access token must carry to be checked for revocation. */
export const isSessionClaims = TypeCompiler.Compile(SessionClaimsSchema)
export const isResetClaims = TypeCompiler.Compile(ResetClaimsSchema)
export const isVerifyClaims = TypeCompiler.Compile(VerifyClaimsSchema)

export type TimeVerdict = 'ok' | 'expired' | 'not-yet-valid'

/**
 * exp, nbf and iat against our clock (fast-jwt's own date checks are off so the clock can be
 * injected); `tolerance` is CLOCK_TOLERANCE in seconds. A token issued in the future is refused.
 */
export function checkTimes (claims: { exp: number, iat: number, nbf?: number }, now: number, tolerance: number): TimeVerdict {
  if (now > claims.exp + tolerance) return 'expired'
  if (claims.iat > now + tolerance) return 'not-yet-valid'
  if (claims.nbf !== undefined && claims.nbf > now + tolerance) return 'not-yet-valid'
  return 'ok'
}
