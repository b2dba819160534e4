// The result labels of logins and refreshes, from what the services answered: a bounded set, whatever the error.
import { TesseraError } from '../errors'
import { DpopError } from '../tokens/dpop'
import { TokenError } from '../tokens/token-error'
import type { LoginResult, RefreshResult } from './metrics'

export function loginResult (err: unknown): LoginResult {
  if (!(err instanceof TesseraError)) return 'error'
  switch (err.code) {
    case 'ERR_INVALID_CREDENTIALS': return 'invalid_credentials'
    case 'ERR_ACCOUNT_DISABLED': return 'disabled'
    case 'ERR_EMAIL_NOT_VERIFIED': return 'email_not_verified'
    default: return 'error'
  }
}

export function refreshResult (err: unknown): RefreshResult {
  if (err instanceof TokenError) return err.reason === 'expired' ? 'expired' : 'invalid'
  if (err instanceof DpopError) return 'dpop_invalid'
  if (!(err instanceof TesseraError)) return 'error'
  switch (err.code) {
    case 'ERR_REFRESH_TOKEN_INVALID': return 'invalid'
    case 'ERR_REFRESH_TOKEN_EXPIRED': return 'expired'
    case 'ERR_REFRESH_TOKEN_REVOKED': return 'revoked'
    case 'ERR_REFRESH_TOKEN_REUSED': return 'reused'
    case 'ERR_SESSION_EXPIRED': return 'session_expired'
    case 'ERR_ACCOUNT_DISABLED': return 'disabled'
    default: return 'error'
  }
}

/**
 * Await `work`, counting its outcome: the label `success` gives its value ('success' by default, a member of every
 * result type here), or the label `failure` gives its error.
 */
export async function counted<T, R extends string> (
  count: (result: R) => void, failure: (err: unknown) => R, work: Promise<T>, success: (value: T) => R = () => 'success' as R
): Promise<T> {
  let result: T
  try {
    result = await work
  } catch (err) {
    count(failure(err))
    throw err
  }
  count(success(result))
  return result
}
