// Counts node:crypto's one-shot sign and verify calls (fast-jwt's EdDSA path), so a test can tell a verification-cache
// hit from a miss, or see that two answers did the same signing work. Import it first in a test file: fast-jwt binds
// `sign` and `verify` when its module is first evaluated.
import crypto from 'node:crypto'

type Counted = 'sign' | 'verify'

export interface CallCounter {
  readonly count: number
  reset: () => void
}

function count (name: Counted): CallCounter {
  const original = crypto[name] as (...args: unknown[]) => unknown
  let calls = 0
  const counting = function (this: unknown, ...args: unknown[]) {
    calls++
    return Reflect.apply(original, this, args)
  }
  // Writable own property of the CommonJS exports object; this process (one test file) is the only one affected.
  ;(crypto as unknown as Record<Counted, unknown>)[name] = counting
  return {
    get count (): number { return calls },
    reset (): void { calls = 0 }
  }
}

/** Signatures made since the last reset. */
export const signatures = count('sign')
/** Signature verifications performed since the last reset. */
export const signatureChecks = count('verify')
