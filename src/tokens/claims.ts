// The claims of access, refresh and emailed link tokens, checked by compiled TypeBox validators after the signature.
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

export const ACCESS_TYP = 'at+jwt'
export const REFRESH_TYP = 'rt+jwt'
export const RESET_TYP = 'reset+jwt'
export const VERIFY_TYP = 'verify+jwt'
export const MFA_TYP = 'mfa+jwt'

/**
 * Link tokens get audiences of their own (RFC 8725 §3.11/3.12): even a verifier that ignored `typ`
 * would not take one for an access token (JWT_AUDIENCE) or a refresh token (the issuer).
 */
export const resetAudience = (issuer: string): string => `${issuer}/reset`
export const verifyAudience = (issuer: string): string => `${issuer}/verify`
/** The mfaToken between password and second factor: its own audience, so nothing else takes it (issue 16). */
export const mfaAudience = (issuer: string): string => `${issuer}/mfa`

const NumericDate = Type.Integer({ minimum: 0, maximum: 253402300799, description: 'Seconds since the epoch' })

/** RFC 9449 §6.1: the token is bound to the key whose RFC 7638 SHA-256 thumbprint is `jkt` (DPoP). */
export const ConfirmationSchema = Type.Object({
  jkt: Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$' })
})
export type Confirmation = Static<typeof ConfirmationSchema>

/** RFC 8176 authentication method references: what a sign-in with a second factor used. Only those tokens carry it. */
export const MFA_AMR = ['pwd', 'otp'] as const
const AmrSchema = Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { minItems: 1, maxItems: 4 })

export const AccessClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 }),
  cnf: Type.Optional(ConfirmationSchema),
  amr: Type.Optional(AmrSchema)
})
/** The session (one sign-in, a row of the sessions table) a token belongs to: SESSION_ID_PATTERN of src/lib/ids.ts. */
const SidSchema = Type.String({ minLength: 16, maxLength: 16, pattern: '^[A-Za-z0-9_-]+$' })

/**
 * Every access token carries `sid` (tokens issued before sessions were recorded lack it, so it stays optional here).
 * REVOCATION_MODE=hybrid adds `ver`, the user's token version when the token was issued; its check requires both.
 * The stateless checker never looks at either.
 */
export const SessionClaimsSchema = Type.Object({
  ver: Type.Integer({ minimum: 0 }),
  sid: SidSchema
})
export type SessionClaims = Static<typeof SessionClaimsSchema>

export type AccessClaims = Static<typeof AccessClaimsSchema> & Partial<SessionClaims>

export const RefreshClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  ver: Type.Integer({ minimum: 0 }),
  // Optional only for refresh tokens issued before sessions were recorded: those start a session when used.
  sid: Type.Optional(SidSchema),
  /** The session's rotation counter when the token was issued: a refresh is a compare-and-set on it (RFC 9700 §4.14.2). */
  ctr: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  auth_time: NumericDate,
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 }),
  /** Bound to a DPoP key: it refreshes only with a proof from that key (RFC 9449 §5). */
  cnf: Type.Optional(ConfirmationSchema),
  /** The session was opened with a second factor: its refreshed access tokens carry the same `amr`. */
  amr: Type.Optional(AmrSchema)
})
export type RefreshClaims = Static<typeof RefreshClaimsSchema>

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

/**
 * The mfaToken: a checked password, waiting for its second factor. `ver` binds it to the user's token version (a
 * password reset or sign-out everywhere kills it); `ctr` to the user's MFA counter, which every accepted second
 * factor moves on, so once a verify succeeded the token is dead without any record of the token itself.
 */
export const MfaClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  ver: Type.Integer({ minimum: 0 }),
  ctr: Type.Integer({ minimum: 0, maximum: 2147483647 }),
  /** The device name the login was sent with, for the session the verify creates. */
  dev: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  iat: NumericDate,
  exp: NumericDate,
  nbf: Type.Optional(NumericDate),
  jti: Type.String({ minLength: 1, maxLength: 64 })
})
export type MfaClaims = Static<typeof MfaClaimsSchema>

export const isAccessClaims = TypeCompiler.Compile(AccessClaimsSchema)
export const isRefreshClaims = TypeCompiler.Compile(RefreshClaimsSchema)
/** Hybrid mode only, after isAccessClaims: the session claims an access token must carry to be checked for revocation. */
export const isSessionClaims = TypeCompiler.Compile(SessionClaimsSchema)
export const isResetClaims = TypeCompiler.Compile(ResetClaimsSchema)
export const isVerifyClaims = TypeCompiler.Compile(VerifyClaimsSchema)
export const isMfaClaims = TypeCompiler.Compile(MfaClaimsSchema)

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
