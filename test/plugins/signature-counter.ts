// Counts one-shot node:crypto verify calls (fast-jwt's Ed25519 path) so tests can tell a verification-cache hit from a miss.
// Import it before anything that loads fast-jwt: fast-jwt binds `verify` when its module is first evaluated.
import crypto from 'node:crypto'

const original = crypto.verify
let count = 0

/** Signature verifications performed since the last reset. */
export const signatureChecks = {
  get count (): number { return count },
  reset (): void { count = 0 }
}

const counting = function (this: unknown, ...args: Parameters<typeof crypto.verify>) {
  count++
  return Reflect.apply(original, this, args)
} as typeof crypto.verify
// Writable own property of the CommonJS exports object; this process (one test file) is the only one affected.
;(crypto as { verify: typeof crypto.verify }).verify = counting
