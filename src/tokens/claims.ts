// The claims of access and refresh tokens, checked by compiled TypeBox validators after the signature.
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

export const ACCESS_TYP = 'at+jwt'
export const REFRESH_TYP = 'rt+jwt'

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
export type AccessClaims = Static<typeof AccessClaimsSchema>

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
export type RefreshClaims = Static<typeof RefreshClaimsSchema>

export const isAccessClaims = TypeCompiler.Compile(AccessClaimsSchema)
export const isRefreshClaims = TypeCompiler.Compile(RefreshClaimsSchema)

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
