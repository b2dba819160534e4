// Email addresses: one strict grammar (the HTML "valid e-mail address") and one account per address however it is typed.

/**
 * The WHATWG HTML "valid e-mail address" (the grammar of `<input type=email>`), as the spec writes it,
 * except that the host needs at least one dot (the final `*` is a `+`), as Tessera always required: a
 * dotless host ("a@b", "root@localhost") is no Internet mail domain (ICANN SAC053). An ASCII local part
 * of atext and dots, then host-name labels of letters, digits and inner hyphens. No comments, quoted
 * strings, display names, groups, commas, semicolons or spaces, so no mail library can read an accepted
 * address as a list or as anything but one mailbox.
 */
const VALID_EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/

/** RFC 5321 §4.5.3.1: 64 octets of local part, 254 for a whole forward-path address. */
const MAX_LOCAL_LENGTH = 64
const MAX_EMAIL_LENGTH = 254

/** True when `email`, exactly as given, is one address of the grammar within the length bounds. */
export function isValidEmail (email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && VALID_EMAIL.test(email) && email.indexOf('@') <= MAX_LOCAL_LENGTH
}

/**
 * Trim, NFKC-normalise and lower-case, then check the grammar; null when the result is not a valid
 * address. The check runs on the normalised form, so a fullwidth comma (NFKC: ",") is refused too.
 */
export function normalizeEmail (input: string): string | null {
  const email = input.trim().normalize('NFKC').toLowerCase()
  return isValidEmail(email) ? email : null
}
