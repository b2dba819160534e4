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

/** The range of each parameter this service accepts (the ARGON2_* bounds in config.ts) and learns from stored hashes. */
export const ARGON2_BOUNDS = Object.freeze({
  memoryCost: { minimum: 8192, maximum: 4_194_304 },
  timeCost: { minimum: 1, maximum: 20 },
  parallelism: { minimum: 1, maximum: 16 }
})

const costKey = (p: Argon2Params): string => `m=${p.memoryCost},t=${p.timeCost},p=${p.parallelism}`

/**
 * m, t and p of a PHC parameter segment or a whole PHC string ("m=19456,t=2,p=1" in any order), or null when
 * one is missing or outside ARGON2_BOUNDS. Out of bounds is not learned: a login never pays for a row this
 * service could not have written (a hand-edited hash with t=1000 would otherwise slow every failed login).
 */
export function argon2ParamsOf (phc: string): Argon2Params | null {
  const segment = /(?:^|\$)(m=[^$]*)/.exec(phc)?.[1]
  if (segment === undefined) return null
  const values = new Map(segment.split(',').map((pair) => pair.split('=') as [string, string | undefined]))
  const read = (key: string, bounds: { minimum: number, maximum: number }): number | null => {
    const text = values.get(key)
    const n = text !== undefined && /^[0-9]{1,7}$/.test(text) ? Number(text) : NaN
    return n >= bounds.minimum && n <= bounds.maximum ? n : null
  }
  const memoryCost = read('m', ARGON2_BOUNDS.memoryCost)
  const timeCost = read('t', ARGON2_BOUNDS.timeCost)
  const parallelism = read('p', ARGON2_BOUNDS.parallelism)
  return memoryCost === null || timeCost === null || parallelism === null ? null : { memoryCost, timeCost, parallelism }
}

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
  /**
   * Every parameter set stored hashes are known to carry, the live one first. A failed login verifies once
   * at each (the account's own hash standing in for its set), so its argon2 work is the same whether the
   * account exists, and whatever parameters its hash was made with.
   */
  readonly #costs = new Map<string, Readonly<Argon2Params>>()
  /** One throw-away hash per parameter set, made on first use. */
  readonly #dummyHashes = new Map<string, Promise<string>>()
  #verifications = 0
  /** Hears each argon2 call's duration (metrics); nothing by default. */
  #timer: ((operation: 'hash' | 'verify', seconds: number) => void) | undefined

  constructor (params: Argon2Params) {
    this.#params = Object.freeze({ memoryCost: params.memoryCost, timeCost: params.timeCost, parallelism: params.parallelism })
    this.#costs.set(costKey(this.#params), this.#params)
  }

  /**
   * Add the parameter sets of stored hashes (PHC strings or their `m=…,t=…,p=…` segments), read from the
   * store at start-up. Sets outside ARGON2_BOUNDS are ignored.
   */
  learnParameters (phcs: Iterable<string>): void {
    for (const phc of phcs) {
      const params = argon2ParamsOf(phc)
      if (params !== null && !this.#costs.has(costKey(params))) this.#costs.set(costKey(params), Object.freeze(params))
    }
  }

  /** Report the duration of every argon2 hash and verification from now on (tessera_password_hash_duration_seconds). */
  timeWith (timer: (operation: 'hash' | 'verify', seconds: number) => void): void {
    this.#timer = timer
  }

  /** One argon2 call, timed when a timer listens. */
  async #timed<T> (operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    const timer = this.#timer
    if (timer === undefined) return await work()
    const start = performance.now()
    try {
      return await work()
    } finally {
      timer(operation, (performance.now() - start) / 1000)
    }
  }

  /** The parameter sets a failed login pays for, the live one first. */
  get knownParameters (): ReadonlyArray<Readonly<Argon2Params>> {
    return [...this.#costs.values()]
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
    return this.#hashWith(this.#params, normalizedPassword)
  }

  async #hashWith ({ memoryCost, timeCost, parallelism }: Readonly<Argon2Params>, normalizedPassword: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    const digest = await this.#timed('hash', () => argon2.hash(normalizedPassword, {
      type: argon2.argon2id, version: ARGON2_VERSION, hashLength: HASH_BYTES, memoryCost, timeCost, parallelism, salt, raw: true
    }))
    return `$argon2id$v=${ARGON2_VERSION}$m=${memoryCost},t=${timeCost},p=${parallelism}$${phcBase64(salt)}$${phcBase64(digest)}`
  }

  /**
   * True when the password matches. A stored hash argon2 cannot use gives false rather than an exception,
   * after a dummy verification so that a corrupt row is not told apart by response time.
   */
  async verify (hash: string, normalizedPassword: string): Promise<boolean> {
    this.#verifications++
    try {
      return await this.#timed('verify', () => argon2.verify(hash, normalizedPassword))
    } catch {
      await this.#verifyAgainstDummy(normalizedPassword)
      return false
    }
  }

  /**
   * The password check of a login: `storedHash` is the account's, or null when the email is unknown. A failure
   * verifies a throw-away hash at every known parameter set but the one the account's hash just paid for, so
   * an unknown email, a wrong password on a fresh hash and one on a hash from before a parameter change all
   * do the same argon2 work (no user enumeration by timing). A success pays only its own verify: the caller
   * knew the password, and the answer says it was right anyway.
   */
  async verifyLogin (storedHash: string | null, normalizedPassword: string): Promise<boolean> {
    this.#verifications++
    let paidFor: string | null = null
    if (storedHash !== null) {
      try {
        if (await this.#timed('verify', () => argon2.verify(storedHash, normalizedPassword))) return true
        const own = argon2ParamsOf(storedHash)
        if (own !== null) {
          paidFor = costKey(own)
          // A set first seen here (a hash written by another instance since start-up) is paid for from now on.
          if (!this.#costs.has(paidFor)) this.#costs.set(paidFor, Object.freeze(own))
        }
      } catch {
        // argon2 refused the stored hash before doing any work: pay for every set, as for an unknown email.
      }
    }
    for (const [key, params] of this.#costs) {
      if (key !== paidFor) {
        const dummy = await this.#getDummyHash(params)
        await this.#timed('verify', () => argon2.verify(dummy, normalizedPassword))
      }
    }
    return false
  }

  /** `verifyLogin` for an unknown email: a throw-away verify at every known parameter set, always false. */
  async verifyDummy (normalizedPassword: string): Promise<false> {
    await this.verifyLogin(null, normalizedPassword)
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
    const dummy = await this.#getDummyHash(this.#params)
    await this.#timed('verify', () => argon2.verify(dummy, normalizedPassword))
  }

  #getDummyHash (params: Readonly<Argon2Params>): Promise<string> {
    const key = costKey(params)
    let pending = this.#dummyHashes.get(key)
    if (pending === undefined) {
      // A random password nobody knows, hashed once with these parameters so the cost matches real hashes.
      const made = this.#hashWith(params, randomBytes(32).toString('base64url'))
      // Forget a failed attempt so the next call retries instead of replaying the rejection forever.
      made.catch(() => { if (this.#dummyHashes.get(key) === made) this.#dummyHashes.delete(key) })
      this.#dummyHashes.set(key, made)
      pending = made
    }
    return pending
  }
}
