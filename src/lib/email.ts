// Email normalisation: one account per address however it is typed (case, width, spacing).

/** Trim, NFKC-normalise and lower-case; null when the result is not a plausible address. */
export function normalizeEmail (input: string): string | null {
  const email = input.trim().normalize('NFKC').toLowerCase()
  if (email.length > 254) return null
  // Deliberately loose (RFC 5321 allows far more than any regex checks well): one @, no spaces,
  // a dot in the domain. Deliverability is proven by email verification, not by syntax.
  if (!/^[^\s@]{1,64}@[^\s@]+\.[^\s@.]+$/u.test(email)) return null
  if (/[\p{Cc}\p{Cf}]/u.test(email)) return null
  return email
}
