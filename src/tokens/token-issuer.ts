// Signs access and refresh tokens with the current key; signers are built once per key, not per call.
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import type { Role } from '../store/user-store'
import { ACCESS_TYP, REFRESH_TYP, type AccessClaims, type RefreshClaims } from './claims'
import { newJti, SignerCache } from './signers'
import type { Config } from '../config'

export interface TokenSettings {
  issuer: string
  audience: string
  accessTtl: number
  refreshTtl: number
  sessionMaxAge: number
  /** REVOCATION_MODE=hybrid: access tokens also carry `ver`, which the hybrid check compares with the user's. */
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

/**
 * Seconds after which no token issued before now can still be accepted: a refresh token lives REFRESH_TOKEN_TTL (never
 * past SESSION_MAX_AGE), an access token ACCESS_TOKEN_TTL, either plus CLOCK_TOLERANCE. How long an ended session's row
 * must be kept.
 */
export const longestTokenLifetime = (jwt: Config['jwt']): number =>
  Math.max(Math.min(jwt.refreshTtl, jwt.sessionMaxAge), jwt.accessTtl) + jwt.clockTolerance

/** The session the tokens belong to, as recorded: its id (`sid`), login time and current rotation counter. */
export interface TokenSession { id: string, authTime: number, counter: number }

export interface IssuedTokens {
  /** DPoP when both tokens are bound to the client's key (`cnf.jkt`), Bearer otherwise. */
  tokenType: 'Bearer' | 'DPoP'
  accessToken: string
  expiresIn: number
  refreshToken: string
  refreshExpiresIn: number
  /** The session's id, the tokens' `sid`: what GET /v1/me/sessions lists and DELETE /v1/me/sessions/{id} ends. */
  sessionId: string
}

/** What binds or marks a session's tokens beyond the user and the session. */
export interface TokenExtras {
  /** A DPoP key's RFC 7638 thumbprint: both tokens get `cnf.jkt`. */
  jkt?: string | undefined
  /** The authentication methods of a session opened with a second factor (RFC 8176). */
  amr?: readonly string[] | undefined
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
   * Tokens for a user's session. The refresh token's lifetime is cut so the session never outlives SESSION_MAX_AGE
   * from `authTime` (the login, in seconds); it carries the session's counter (`ctr`), which its refresh must match.
   * With `jkt` (a DPoP key's thumbprint) both tokens are bound to that key; with `amr` (a session opened with a
   * second factor) both carry it.
   */
  issue (user: { id: string, role: Role, tokenVersion: number }, session: TokenSession, { jkt, amr }: TokenExtras = {}): IssuedTokens {
    const signers = this.signers.current()
    const now = nowSeconds(this.clock)
    const { issuer, audience, accessTtl, refreshTtl, sessionMaxAge } = this.settings
    const refreshExp = Math.min(now + refreshTtl, session.authTime + sessionMaxAge)
    const sid = session.id
    // Only a session opened with a second factor carries `amr` (RFC 8176), in both tokens, so refreshes keep it
    // and every other token stays as small as before.
    const methods = amr === undefined ? {} : { amr: [...amr] }
    const access: AccessClaims = this.settings.sessionClaims === true
      ? { iss: issuer, aud: audience, sub: user.id, role: user.role, ver: user.tokenVersion, sid, iat: now, exp: now + accessTtl, jti: newJti(), ...methods }
      : { iss: issuer, aud: audience, sub: user.id, role: user.role, sid, iat: now, exp: now + accessTtl, jti: newJti(), ...methods }
    const refresh: RefreshClaims = {
      iss: issuer, aud: issuer, sub: user.id, ver: user.tokenVersion, sid, ctr: session.counter, auth_time: session.authTime, iat: now, exp: refreshExp, jti: newJti(), ...methods
    }
    if (jkt !== undefined) access.cnf = refresh.cnf = { jkt }
    return {
      tokenType: jkt === undefined ? 'Bearer' : 'DPoP',
      accessToken: signers.access(access),
      expiresIn: accessTtl,
      refreshToken: signers.refresh(refresh),
      refreshExpiresIn: refreshExp - now,
      sessionId: sid
    }
  }
}
