// Signs the mfaToken: the short-lived step between a checked password and its second factor (issue 16).
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import { MFA_TYP, mfaAudience, type MfaClaims } from './claims'
import { newJti, SignerCache } from './signers'

export interface MfaTokenSettings {
  issuer: string
  /** MFA_TOKEN_TTL, seconds. */
  mfaTtl: number
}

export class MfaTokenIssuer {
  private readonly signers: SignerCache<'mfa'>

  constructor (ring: () => KeyRing, private readonly settings: MfaTokenSettings, private readonly clock: Clock) {
    this.signers = new SignerCache(ring, { mfa: MFA_TYP })
  }

  /** A token for `user` pinned to its token version and MFA counter; `deviceName` rides along for the session. */
  sign (user: { id: string, tokenVersion: number }, counter: number, deviceName?: string): { token: string, expiresIn: number } {
    const now = nowSeconds(this.clock)
    const { issuer, mfaTtl } = this.settings
    const claims: MfaClaims = {
      iss: issuer,
      aud: mfaAudience(issuer),
      sub: user.id,
      ver: user.tokenVersion,
      ctr: counter,
      ...(deviceName !== undefined ? { dev: deviceName } : {}),
      iat: now,
      exp: now + mfaTtl,
      jti: newJti()
    }
    return { token: this.signers.current().mfa(claims), expiresIn: mfaTtl }
  }
}
