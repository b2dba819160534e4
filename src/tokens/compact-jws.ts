// The one spelling a token may have: three segments of canonical unpadded base64url (RFC 7515 §2, §7.1).

/** The base64url alphabet in value order (RFC 4648 §5): a character's index is the 6 bits it stands for. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** Three runs of base64url characters: no padding, no '+' or '/', no whitespace. */
const SHAPE = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/

/**
 * Whether the segment token[start, end), already known to be base64url characters, is canonical:
 * Buffer.from(segment, 'base64url').toString('base64url') gives it back. That holds unless its length is
 * 4k+1 (a lone trailing character, which the decoder drops) or its last character has unused low bits
 * set (4 of them after 4k+2 characters, 2 after 4k+3), which the decoder ignores.
 */
function endsCanonically (token: string, start: number, end: number): boolean {
  const rest = (end - start) % 4
  if (rest === 0) return true
  if (rest === 1) return false
  const unused = rest === 2 ? 0b1111 : 0b11
  return (ALPHABET.indexOf(token[end - 1]) & unused) === 0
}

/**
 * True when `token` is header.payload.signature with each segment canonical base64url: the one spelling
 * of its bytes. Node's decoder is lenient, so without this one token has several spellings that all
 * verify (audit finding 11): `…w` and `…x` at the end of an Ed25519 signature are the same bytes, and
 * anything keyed by the token's text (the verified-token cache) would hold one token under several keys.
 * Called before any verification of every kind of token. Checked without decoding (one pass of a regex),
 * as it runs on every request.
 */
export function isCanonicalCompactJws (token: string): boolean {
  if (!SHAPE.test(token)) return false
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  return endsCanonically(token, 0, first) && endsCanonically(token, first + 1, second) && endsCanonically(token, second + 1, token.length)
}
