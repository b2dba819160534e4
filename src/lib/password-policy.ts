// Password acceptance rules for new passwords (NIST SP 800-63B-4 §3.1.1.2, ASVS 5.0 V6) and the shared normalisation.
import type * as LanguageCommon from '@zxcvbn-ts/language-common'

/** Longest password accepted, in Unicode code points after NFKC (NIST: at least 64 SHOULD be allowed). */
export const PASSWORD_MAX_LENGTH = 128

export type PasswordErrorCode =
  | 'ERR_PASSWORD_TOO_SHORT'
  | 'ERR_PASSWORD_TOO_LONG'
  | 'ERR_PASSWORD_MALFORMED'
  | 'ERR_PASSWORD_COMMON'

export type PasswordVerdict =
  | { ok: true, normalized: string }
  | { ok: false, code: PasswordErrorCode, detail: string }

// A lone surrogate cannot be encoded as UTF-8, so it would be hashed as U+FFFD and two different
// inputs would share one hash. With the `u` flag only unpaired surrogates match \p{Cs}; this is what
// String#isWellFormed checks, which exists on Node 20 but is not in the ES2023 lib this project compiles against.
const LONE_SURROGATE = /\p{Cs}/u

// \p{Cc} is C0 (NUL…U+001F, so tab and newline too), DEL and C1. They do not survive copy/paste between
// devices and password managers (newlines get stripped or turned into CRLF, tabs move focus), and NUL
// truncates in C-string consumers, so a password holding one could not be typed again reliably.
const CONTROL_CHARACTER = /\p{Cc}/u

// NFKC never deletes code points, and canonical composition merges at most 4 into 1, so no string longer
// than this (in UTF-16 units) can normalise to PASSWORD_MAX_LENGTH code points or fewer. Refusing it before
// normalising bounds the work a hostile input can cause; the route schema should refuse it earlier still.
const RAW_LENGTH_CEILING = PASSWORD_MAX_LENGTH * 4 * 2

let commonPasswords: ReadonlySet<string> | undefined

// Loaded on first use rather than at import or start: the package and the folded set cost about 15 MiB of
// RSS and tens of milliseconds, which processes that never check a new password (CLI, key tools, an instance
// that only verifies tokens) should not pay. The first registration or password change pays it once.
function commonPasswordSet (): ReadonlySet<string> {
  if (commonPasswords === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deferred load needs a synchronous require
    const { dictionary } = require('@zxcvbn-ts/language-common') as typeof LanguageCommon
    // The whole ranked list (~49k entries, well above the top 10,000 the design asks for), folded
    // the same way as the candidate so case variants ("PassWord") are caught too.
    commonPasswords = new Set(dictionary['passwords-common'].map((p) => p.normalize('NFKC').toLowerCase()))
  }
  return commonPasswords
}

/**
 * NFKC, so that the same password typed on another device or keyboard (fullwidth forms, ligatures,
 * composed vs decomposed accents) gives the same bytes. Registration and login must both use this.
 */
export function normalizePassword (password: string): string {
  return password.normalize('NFKC')
}

/** Decide whether a new password is acceptable; on success return the normalised form to hash. */
export function checkPassword (password: string, minLength: number): PasswordVerdict {
  if (LONE_SURROGATE.test(password)) {
    return { ok: false, code: 'ERR_PASSWORD_MALFORMED', detail: 'password is not well-formed Unicode (unpaired surrogate)' }
  }
  if (password.length > RAW_LENGTH_CEILING) {
    return { ok: false, code: 'ERR_PASSWORD_TOO_LONG', detail: `password must be at most ${PASSWORD_MAX_LENGTH} characters` }
  }
  const normalized = normalizePassword(password)
  if (CONTROL_CHARACTER.test(normalized)) {
    return { ok: false, code: 'ERR_PASSWORD_MALFORMED', detail: 'password must not contain control characters such as tab or newline' }
  }
  // Code points, not UTF-16 units: an emoji is one character to the person typing it.
  const length = [...normalized].length
  if (length < minLength) {
    return { ok: false, code: 'ERR_PASSWORD_TOO_SHORT', detail: `password must be at least ${minLength} characters` }
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return { ok: false, code: 'ERR_PASSWORD_TOO_LONG', detail: `password must be at most ${PASSWORD_MAX_LENGTH} characters` }
  }
  if (commonPasswordSet().has(normalized.toLowerCase())) {
    return { ok: false, code: 'ERR_PASSWORD_COMMON', detail: 'password is in a list of commonly used passwords' }
  }
  return { ok: true, normalized }
}
