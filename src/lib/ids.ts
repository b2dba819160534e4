// Ids: users get UUIDv7 (time-ordered, random, not guessable by counting) in 26 base32 characters; sessions get 96 random bits.
import { randomBytes } from 'node:crypto'
import { v7 as uuidv7 } from 'uuid'

// Crockford's alphabet is in ASCII order, so ids sort by creation time as strings (keyset pagination).
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

/** 128 bits as 26 Crockford base32 characters: 10 fewer than the hyphenated UUID, in every token's `sub`. */
export function encodeId (bytes: Uint8Array): string {
  let value = 0n
  for (const b of bytes) value = (value << 8n) | BigInt(b)
  let out = ''
  for (let i = 0; i < 26; i++) {
    out = ALPHABET[Number(value & 31n)] + out
    value >>= 5n
  }
  return out
}

export function newId (): string {
  const bytes = new Uint8Array(16)
  uuidv7(undefined, bytes)
  return encodeId(bytes)
}

export const ID_PATTERN = /^[0-7][0-9a-hjkmnp-tv-z]{25}$/

/**
 * A session id (the tokens' `sid`, the sessions table's key): 96 random bits as 16 base64url characters.
 * Unguessable, since holding one names a session to end; the same shape as the sids minted before sessions had rows.
 */
export function newSessionId (): string {
  return randomBytes(12).toString('base64url')
}

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/
