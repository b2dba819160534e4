// argon2id password hashing and verification, including the dummy verify that keeps unknown-email logins as slow as real ones.
import { randomBytes } from 'node:crypto'
import * as argon2 from 'argon2'

export interface Argon2Params {
  /** KiB of memory per hash (argon2's `m`). */
  memoryCost: number
  /** Passes over memory (argon2's `t`). */
  timeCost: number
  /** Lanes (argon2's `p`). */
  parallelism: number
}

/** OWASP Password Storage Cheat Sheet's argon2id setting: m = 19 MiB, t = 2, p = 1. */
export const OWASP_ARGON2: Readonly<Argon2Params> = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 })

// Argon2 version 1.3, the only one the reference implementation writes today.
const ARGON2_VERSION = 0x13
const SALT_BYTES = 16
const HASH_BYTES = 32

// Unpadded standard base64, as the PHC string format and libargon2 use.
function phcBase64 (bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}

/**
 * Hashes and verifies already-normalised passwords (see `normalizePassword`). The argon2 package does
 * its work in libuv's thread pool, so a burst of logins queues there instead of stalling the event loop.
 */
export class PasswordHasher {
  readonly #params: Readonly<Argon2Params>
  #dummyHash: Promise<string> | undefined
  #verifications = 0

  constructor (params: Argon2Params) {
    this.#params = Object.freeze({ memoryCost: params.memoryCost, timeCost: params.timeCost, parallelism: params.parallelism })
  }

  /**
   * How many argon2 verifications have run, real and dummy alike. Tests compare it before and after a
   * request to prove the failure paths (unknown email, wrong password) do the same expensive work.
   */
  get verifications (): number {
    return this.#verifications
  }

  /**
   * A PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` with a fresh 16-byte salt. Written here rather than
   * by the argon2 package, whose 0.45 release orders the parameters `m,p,t`: the decoders in libargon2 and
   * libsodium (behind PHP's password_verify and argon2-cffi) and common Go libraries accept only `m,t,p`,
   * and stored hashes outlive the code that wrote them. The package's verify reads either order.
   */
  async hash (normalizedPassword: string): Promise<string> {
    const { memoryCost, timeCost, parallelism } = this.#params
    const salt = randomBytes(SALT_BYTES)
    const digest = await argon2.hash(normalizedPassword, {
      type: argon2.argon2id, version: ARGON2_VERSION, hashLength: HASH_BYTES, memoryCost, timeCost, parallelism, salt, raw: true
    })
    return `$argon2id$v=${ARGON2_VERSION}$m=${memoryCost},t=${timeCost},p=${parallelism}$${phcBase64(salt)}$${phcBase64(digest)}`
  }

  /**
   * True when the password matches. A stored hash argon2 cannot use gives false rather than an exception,
   * after a dummy verification so that a corrupt row is not told apart by response time.
   */
  async verify (hash: string, normalizedPassword: string): Promise<boolean> {
    this.#verifications++
    try {
      return await argon2.verify(hash, normalizedPassword)
    } catch {
      await this.#verifyAgainstDummy(normalizedPassword)
      return false
    }
  }

  /**
   * Verify against a throw-away hash made with this hasher's parameters, always giving false. Used when
   * the email is unknown so that the response takes as long as a wrong password (no user enumeration).
   */
  async verifyDummy (normalizedPassword: string): Promise<false> {
    this.#verifications++
    await this.#verifyAgainstDummy(normalizedPassword)
    return false
  }

  /**
   * True when a stored hash should be replaced on the next successful login: another algorithm
   * (argon2i/argon2d), another version, other parameters than this hasher's, or unparseable.
   */
  needsRehash (hash: string): boolean {
    // argon2.needsRehash compares version and m/t/p but not the variant, and throws on garbage.
    if (!hash.startsWith('$argon2id$')) return true
    try {
      return argon2.needsRehash(hash, this.#params)
    } catch {
      return true
    }
  }

  async #verifyAgainstDummy (normalizedPassword: string): Promise<void> {
    // The result is meaningless (nobody knows the dummy password); only the cost matters.
    await argon2.verify(await this.#getDummyHash(), normalizedPassword)
  }

  #getDummyHash (): Promise<string> {
    if (this.#dummyHash === undefined) {
      // A random password nobody knows, hashed once with the live parameters so the cost matches real hashes.
      const pending = this.hash(randomBytes(32).toString('base64url'))
      // Forget a failed attempt so the next call retries instead of replaying the rejection forever.
      pending.catch(() => { if (this.#dummyHash === pending) this.#dummyHash = undefined })
      this.#dummyHash = pending
    }
    return this.#dummyHash
  }
}
