// The one error every token check throws: which kind of token, and why it was refused.
import type { TokenKind } from './token-kinds'

/** Why a token was refused; src/lib/problem.ts tokenProblem turns (kind, reason) into the answer. */
export type TokenReason =
  | 'too-long' | 'malformed' | 'unknown-key' | 'bad-signature' | 'wrong-type' | 'bad-claims' | 'expired' | 'not-yet-valid'

export class TokenError extends Error {
  constructor (readonly kind: TokenKind, readonly reason: TokenReason, options?: { cause?: unknown }) {
    super(`${kind} token refused: ${reason}`, options)
    this.name = 'TokenError'
  }
}
