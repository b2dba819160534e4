// fast-jwt signers for the current signing key, built once per key and token type (not once per call).
import { randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { KeyRing } from '../keys/key-ring'

export type Sign = (payload: Record<string, unknown>) => string

/** 96 random bits, base64url: unique for a jti, and 20 characters shorter than a UUID (DESIGN: access token < 350 bytes). */
export const newJti = (): string => randomBytes(12).toString('base64url')

/**
 * One signer per `typ` for the key that signs now. A promise-form `jwtSign` builds a signer per call,
 * about 8 times slower (DESIGN, performance notes); a rotation builds the next key's set once.
 */
export class SignerCache<T extends string> {
  private readonly byKid = new Map<string, Record<T, Sign>>()

  constructor (private readonly ring: () => KeyRing, private readonly typs: Record<T, string>) {}

  current (): Record<T, Sign> {
    const key = this.ring().signingKey()
    let signers = this.byKid.get(key.kid)
    if (signers === undefined) {
      const entries = Object.entries<string>(this.typs).map(([name, typ]) => [name, createSigner({
        key: key.privateKey, algorithm: key.alg, kid: key.kid, header: { alg: key.alg, typ }
      }) as Sign])
      signers = Object.fromEntries(entries) as Record<T, Sign>
      // Keys are few; dropping old signers keeps the map from growing across many rotations.
      if (this.byKid.size > 8) this.byKid.clear()
      this.byKid.set(key.kid, signers)
    }
    return signers
  }
}
