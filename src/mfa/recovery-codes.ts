// Recovery codes: ten single-use codes of 80 random bits, shown once, stored only as keyed hashes (secret-box.ts).
import { randomBytes } from 'node:crypto'

export const RECOVERY_CODE_COUNT = 10
/** Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand is not misread. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const GROUPS = 4
const GROUP_LENGTH = 4

/** One code: 16 characters of 5 bits (80 bits), shown as XXXX-XXXX-XXXX-XXXX. */
function newCode (): string {
  const bytes = randomBytes(GROUPS * GROUP_LENGTH)
  // 256 is a multiple of 32: each byte's low 5 bits are uniform.
  const chars = [...bytes].map((b) => ALPHABET[b & 31])
  const groups: string[] = []
  for (let i = 0; i < GROUPS; i++) groups.push(chars.slice(i * GROUP_LENGTH, (i + 1) * GROUP_LENGTH).join(''))
  return groups.join('-')
}

export const newRecoveryCodes = (): string[] => Array.from({ length: RECOVERY_CODE_COUNT }, newCode)

/**
 * The canonical form of a typed code, or null when it cannot be one: case, spaces and hyphens do not matter, and
 * the letters Crockford's base32 maps (I and L to 1, O to 0) are read as the digits they stand for.
 */
export function normalizeRecoveryCode (typed: string): string | null {
  const compact = typed.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0')
  if (compact.length !== GROUPS * GROUP_LENGTH || [...compact].some((c) => !ALPHABET.includes(c))) return null
  return compact
}
