// A bounded cache of tokens whose signature and claims already checked out, in front of @fastify/jwt.
import { LRUCache } from 'lru-cache'
import type { KeyRing } from '../keys/key-ring'

interface Entry<C> { claims: C, kid: string, alg: string }

/**
 * Why not fast-jwt's own cache: on a hit it still runs after the token is decoded and hashed with SHA-256
 * (about a third of a whoami's CPU in a profile), and it also caches failures, so a flood of bad tokens
 * evicts the good ones. This cache holds successes only, keyed by the token text itself, and is bounded by
 * JWT_VERIFY_CACHE entries.
 *
 * A hit is re-checked against the key ring, so a retired key's tokens stop at once; times are checked by
 * the verifier on every request, hit or miss, and an expired token's entry is deleted there (no TTL here: lru-cache
 * would read the clock on every get to repeat that check).
 */
export class VerifiedTokens<C> {
  private readonly cache: LRUCache<string, Entry<C>> | null

  /** `count` hears each lookup's outcome (metrics); absent, nothing is counted. */
  constructor (size: number, private readonly ring: () => KeyRing, private readonly count?: (hit: boolean) => void) {
    this.cache = size > 0 ? new LRUCache<string, Entry<C>>({ max: size }) : null
  }

  get (token: string): C | undefined {
    const entry = this.cache?.get(token)
    if (entry === undefined) {
      this.count?.(false)
      return undefined
    }
    if (this.ring().verificationKey(entry.kid, entry.alg) === undefined) {
      this.cache?.delete(token)
      this.count?.(false)
      return undefined
    }
    this.count?.(true)
    return entry.claims
  }

  set (token: string, claims: C, header: { kid: string, alg: string }): void {
    this.cache?.set(token, { claims, kid: header.kid, alg: header.alg })
  }

  delete (token: string): void {
    this.cache?.delete(token)
  }
}
