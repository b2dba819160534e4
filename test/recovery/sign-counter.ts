// Counts node:crypto one-shot sign calls (fast-jwt's EdDSA path), so a test can see that two answers did the same signing work.
// Import it before anything that loads fast-jwt: fast-jwt binds `sign` when its module is first evaluated.
import crypto from 'node:crypto'

const original = crypto.sign
let count = 0

/** Signatures made since the last reset. */
export const signatures = {
  get count (): number { return count },
  reset (): void { count = 0 }
}

const counting = function (this: unknown, ...args: Parameters<typeof crypto.sign>) {
  count++
  return Reflect.apply(original, this, args)
} as typeof crypto.sign
// Writable own property of the CommonJS exports object; this process (one test file) is the only one affected.
;(crypto as { sign: typeof crypto.sign }).sign = counting
