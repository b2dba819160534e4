// The keys an instance knows, and which of them signs, verifies and is published at a given time.
import type { Clock } from '../clock'
import type { JwtAlg, PublicJwk, SigningKey } from './key'

export type KeyState = 'pending' | 'signing' | 'verify-only' | 'expired' | 'retired'

export interface KeyRingOptions {
  clock: Clock
  /**
   * How long a superseded key must keep verifying: the longest lifetime of a token it may have
   * signed (refresh TTL) plus clock tolerance, in milliseconds.
   */
  verifyGraceMs: number
}

export class KeyRing {
  private readonly byKid: Map<string, SigningKey>
  private readonly ordered: SigningKey[]

  constructor (keys: readonly SigningKey[], private readonly options: KeyRingOptions) {
    this.ordered = [...keys].sort((a, b) => a.signsFrom - b.signsFrom || a.createdAt - b.createdAt)
    this.byKid = new Map(this.ordered.map((k) => [k.kid, k]))
  }

  get keys (): readonly SigningKey[] { return this.ordered }

  /** When `key` stopped (or will stop) signing: the signsFrom of the next key in line, if any. */
  private supersededAt (key: SigningKey): number | null {
    const i = this.ordered.indexOf(key)
    for (let j = i + 1; j < this.ordered.length; j++) {
      const next = this.ordered[j]
      if (next.retiredAt === null || next.retiredAt > next.signsFrom) return next.signsFrom
    }
    return null
  }

  state (key: SigningKey, now = this.options.clock.now()): KeyState {
    if (key.retiredAt !== null && key.retiredAt <= now) return 'retired'
    if (key.signsFrom > now) return 'pending'
    const superseded = this.supersededAt(key)
    if (superseded === null || superseded > now) return 'signing'
    return now < superseded + this.options.verifyGraceMs ? 'verify-only' : 'expired'
  }

  /** The key new tokens are signed with. */
  signingKey (now = this.options.clock.now()): SigningKey {
    for (let i = this.ordered.length - 1; i >= 0; i--) {
      const key = this.ordered[i]
      if (this.state(key, now) === 'signing') return key
    }
    throw new Error('no signing key is active: rotate or add a key (npm run keys -- rotate)')
  }

  /**
   * The key that verifies a token whose header names `kid` and `alg`, or undefined.
   * The algorithm is pinned: a header alg other than the key's own is refused (RFC 8725 §3.1).
   */
  verificationKey (kid: unknown, alg: unknown, now = this.options.clock.now()): SigningKey | undefined {
    if (typeof kid !== 'string' || typeof alg !== 'string') return undefined
    const key = this.byKid.get(kid)
    if (key === undefined || key.alg !== (alg as JwtAlg)) return undefined
    const state = this.state(key, now)
    return state === 'retired' || state === 'expired' ? undefined : key
  }

  /** Public keys other services may verify with: every key that still verifies, HS256 never. */
  jwks (now = this.options.clock.now()): PublicJwk[] {
    const out: PublicJwk[] = []
    for (const key of this.ordered) {
      if (key.jwk === null) continue
      const state = this.state(key, now)
      if (state !== 'retired' && state !== 'expired') out.push(key.jwk)
    }
    return out
  }
}
