// Input rules shared by self-service and administration: an address in the grammar, an acceptable new password, a clean name.
import { Value } from '@sinclair/typebox/value'
import { Errors } from '../errors'
import { normalizeEmail } from '../lib/email'
import { checkPassword } from '../lib/password-policy'
import { NameSchema } from '../schemas/user'

/** The normalised address, or a validation error on /email. */
export function requireEmail (raw: string): string {
  const email = normalizeEmail(raw)
  if (email === null) throw Errors.invalidEmail()
  return email
}

/** The normalised password to hash, or the policy's refusal on `path`. */
export function acceptablePassword (raw: string, minLength: number, path: string): string {
  const verdict = checkPassword(raw, minLength)
  if (!verdict.ok) throw Errors.weakPassword(verdict.code, verdict.detail, path)
  return verdict.normalized
}

/** Routes check names with their schema; callers without one in front of them (the command line) check here. */
export function requireName (name: string): string {
  if (!Value.Check(NameSchema, name)) {
    throw Errors.validation([{ path: '/name', message: 'must be 1 to 100 characters without control characters or bidi overrides' }], 'The name is invalid')
  }
  return name
}
