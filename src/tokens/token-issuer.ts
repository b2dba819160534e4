// Signs access and refresh tokens with the current key; signers are built once per key, not per call.
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import type { Role } from '../store/user-store'
import { ACCESS_TYP, REFRESH_TYP, type AccessClaims, type RefreshClaims } from './claims'
import { newJti, newSid, SignerCache } from './signers'
import type { Config } from '../config'

export interface TokenSettings {
  issuer: string
  audience: string
  accessTtl: number
  refreshTtl: number
  sessionMaxAge: number
  /** REVOCATION_MODE=hybrid: access and refresh tokens carry `ver` and `sid`. Off, the tokens are exactly the stateless ones. */
  sessionClaims?: boolean
}

/** The token settings of a validated configuration. */
export const tokenSettings = (jwt: Config['jwt'], sessionClaims = false): TokenSettings => ({
  issuer: jwt.issuer,
  audience: jwt.audience,
  accessTtl: jwt.accessTtl,
  refreshTtl: jwt.refreshTtl,
  sessionMaxAge: jwt.sessionMaxAge,
  sessionClaims
})

export interface IssuedTokens {
  accessToken: string
  expiresIn: number
  refreshToken: string
  refreshExpiresIn: number
}

export class TokenIssuer {
  private readonly signers: SignerCache<'access' | 'refresh'>

  constructor (
    ring: () => KeyRing,
    private readonly settings: TokenSettings,
    private readonly clock: Clock
  ) {
    this.signers = new SignerCache(ring, { access: ACCESS_TYP, refresh: REFRESH_TYP })
  }

  /**
   * Tokens for a user. `authTime` is the original login (seconds); the refresh token's lifetime is
   * cut so the session never outlives SESSION_MAX_AGE from it. `sid` is the session the tokens continue
   * (a refresh); without it a new session starts. It is written only with `sessionClaims` (hybrid mode).
   */
  issue (user: { id: string, role: Role, tokenVersion: number }, authTime: number, sid?: string): IssuedTokens {
    const signers = this.signers.current()
    const now = nowSeconds(this.clock)
    const { issuer, audience, accessTtl, refreshTtl, sessionMaxAge } = this.settings
    const refreshExp = Math.min(now + refreshTtl, authTime + sessionMaxAge)
    let access: AccessClaims
    let refresh: RefreshClaims
    if (this.settings.sessionClaims === true) {
      const session = sid ?? newSid()
      access = {
        iss: issuer, aud: audience, sub: user.id, role: user.role, ver: user.tokenVersion, sid: session, iat: now, exp: now + accessTtl, jti: newJti()
      }
      refresh = {
        iss: issuer, aud: issuer, sub: user.id, ver: user.tokenVersion, sid: session, auth_time: authTime, iat: now, exp: refreshExp, jti: newJti()
      }
    } else {
      access = { iss: issuer, aud: audience, sub: user.id, role: user.role, iat: now, exp: now + accessTtl, jti: newJti() }
      refresh = {
        iss: issuer, aud: issuer, sub: user.id, ver: user.tokenVersion, auth_time: authTime, iat: now, exp: refreshExp, jti: newJti()
      }
    }
    return {
      accessToken: signers.access(access),
      expiresIn: accessTtl,
      refreshToken: signers.refresh(refresh),
      refreshExpiresIn: refreshExp - now
    }
  }
}
