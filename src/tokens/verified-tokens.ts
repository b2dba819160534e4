// A bounded cache of access tokens whose signature already checked out, in front of @fastify/jwt.
import { LRUCache } from 'lru-cache'
import type { KeyRing } from '../keys/key-ring'
import type { AccessClaims } from './claims'

interface Entry { claims: AccessClaims, kid: string, alg: string }

/**
 * Why not fast-jwt's own cache: on a hit it still runs after @fastify/jwt has decoded the token and
 * hashed it with SHA-256 (about a third of a whoami's CPU in a profile), and it also caches failures,
 * so a flood of bad tokens evicts the good ones. This cache holds successes only, keyed by the token
 * text itself, and is bounded by JWT_VERIFY_CACHE entries.
 *
 * A hit is re-checked against the key ring, so a retired key's tokens stop at once; expiry is checked
 * by the caller on every request, hit or miss.
 */
export class VerifiedTokens {
  private readonly cache: LRUCache<string, Entry> | null

  constructor (size: number, private readonly ring: () => KeyRing) {
    this.cache = size > 0 ? new LRUCache<string, Entry>({ max: size }) : null
  }

  get (token: string): AccessClaims | undefined {
    const entry = this.cache?.get(token)
    if (entry === undefined) return undefined
    if (this.ring().verificationKey(entry.kid, entry.alg) === undefined) {
      this.cache?.delete(token)
      return undefined
    }
    return entry.claims
  }

  set (token: string, claims: AccessClaims, header: { kid: string, alg: string }): void {
    this.cache?.set(token, { claims, kid: header.kid, alg: header.alg })
  }

  delete (token: string): void {
    this.cache?.delete(token)
  }
}
