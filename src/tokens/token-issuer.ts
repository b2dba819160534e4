// Signs access and refresh tokens with the current key; signers are built once per key, not per call.
import { randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import type { Role } from '../store/user-store'
import { ACCESS_TYP, REFRESH_TYP, type AccessClaims, type RefreshClaims } from './claims'

export interface TokenSettings {
  issuer: string
  audience: string
  accessTtl: number
  refreshTtl: number
  sessionMaxAge: number
}

export interface IssuedTokens {
  accessToken: string
  expiresIn: number
  refreshToken: string
  refreshExpiresIn: number
}

type Sign = (payload: Record<string, unknown>) => string
interface Signers { access: Sign, refresh: Sign }

/** 96 random bits, base64url: unique for a jti, and 20 characters shorter than a UUID (DESIGN: access token < 350 bytes). */
const newJti = (): string => randomBytes(12).toString('base64url')

export class TokenIssuer {
  private readonly signers = new Map<string, Signers>()

  constructor (
    private readonly ring: () => KeyRing,
    private readonly settings: TokenSettings,
    private readonly clock: Clock
  ) {}

  private signersFor (): { kid: string, signers: Signers } {
    const key = this.ring().signingKey()
    let signers = this.signers.get(key.kid)
    if (signers === undefined) {
      const make = (typ: string): Sign => createSigner({
        key: key.privateKey, algorithm: key.alg, kid: key.kid, header: { alg: key.alg, typ }
      }) as Sign
      signers = { access: make(ACCESS_TYP), refresh: make(REFRESH_TYP) }
      // Keys are few; dropping old signers keeps the map from growing across many rotations.
      if (this.signers.size > 8) this.signers.clear()
      this.signers.set(key.kid, signers)
    }
    return { kid: key.kid, signers }
  }

  /**
   * Tokens for a user. `authTime` is the original login (seconds); the refresh token's lifetime is
   * cut so the session never outlives SESSION_MAX_AGE from it.
   */
  issue (user: { id: string, role: Role, tokenVersion: number }, authTime: number): IssuedTokens {
    const { signers } = this.signersFor()
    const now = nowSeconds(this.clock)
    const { issuer, audience, accessTtl, refreshTtl, sessionMaxAge } = this.settings
    const access: AccessClaims = {
      iss: issuer, aud: audience, sub: user.id, role: user.role, iat: now, exp: now + accessTtl, jti: newJti()
    }
    const refreshExp = Math.min(now + refreshTtl, authTime + sessionMaxAge)
    const refresh: RefreshClaims = {
      iss: issuer, aud: issuer, sub: user.id, ver: user.tokenVersion, auth_time: authTime, iat: now, exp: refreshExp, jti: newJti()
    }
    return {
      accessToken: signers.access(access),
      expiresIn: accessTtl,
      refreshToken: signers.refresh(refresh),
      refreshExpiresIn: refreshExp - now
    }
  }
}
