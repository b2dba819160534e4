// Signs the tokens mailed in links (password reset, email verification) with the same key ring as sessions.
import { createHash } from 'node:crypto'
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import { RESET_TYP, VERIFY_TYP, resetAudience, verifyAudience, type ResetClaims, type VerifyClaims } from './claims'
import { newJti, SignerCache } from './signers'

export interface LinkTokenSettings {
  issuer: string
  resetTtl: number
  verifyTtl: number
}

export interface LinkToken { token: string, expiresIn: number }

/**
 * The `pwd` claim: base64url of the first 16 bytes of SHA-256 of the stored password hash. Any new
 * hash (reset, change, rehash at login) changes it, so a mailed link dies with the password it was
 * sent for. The argon2 hash it is taken from is salted and never leaves the store, so this reveals
 * nothing usable about the password.
 */
export const passwordFingerprint = (passwordHash: string): string =>
  createHash('sha256').update(passwordHash).digest().subarray(0, 16).toString('base64url')

export class LinkTokenIssuer {
  private readonly signers: SignerCache<'reset' | 'verify'>

  constructor (ring: () => KeyRing, private readonly settings: LinkTokenSettings, private readonly clock: Clock) {
    this.signers = new SignerCache(ring, { reset: RESET_TYP, verify: VERIFY_TYP })
  }

  /** A password reset token for `user`, pinned to its token version and password hash. */
  signReset (user: { id: string, tokenVersion: number, passwordHash: string }): LinkToken {
    const now = nowSeconds(this.clock)
    const { issuer, resetTtl } = this.settings
    const claims: ResetClaims = {
      iss: issuer,
      aud: resetAudience(issuer),
      sub: user.id,
      ver: user.tokenVersion,
      pwd: passwordFingerprint(user.passwordHash),
      iat: now,
      exp: now + resetTtl,
      jti: newJti()
    }
    return { token: this.signers.current().reset(claims), expiresIn: resetTtl }
  }

  /** An email verification token for `user`'s current address. */
  signVerification (user: { id: string, email: string }): LinkToken {
    const now = nowSeconds(this.clock)
    const { issuer, verifyTtl } = this.settings
    const claims: VerifyClaims = {
      iss: issuer, aud: verifyAudience(issuer), sub: user.id, email: user.email, iat: now, exp: now + verifyTtl, jti: newJti()
    }
    return { token: this.signers.current().verify(claims), expiresIn: verifyTtl }
  }
}
