// AES-256-GCM for the TOTP secrets at rest, and the keyed hash of recovery codes: two keys derived from one MFA key.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

/** The sealed format's version: a later key rotation can add `v2.<kid>.…` and still read these. */
const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

/** A sealed value could not be opened: another key, or the row was altered or moved to another user. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError'
}

const subkey = (master: Buffer, purpose: string): Buffer =>
  Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `tessera mfa: ${purpose}`, 32))

export class SecretBox {
  private readonly encryptionKey: Buffer
  private readonly hashKey: Buffer

  /** `master`: the 32-byte MFA key (MFA_ENCRYPTION_KEY or the key file); each use gets its own HKDF subkey. */
  constructor (master: Buffer) {
    if (master.length !== 32) throw new Error('the MFA key must be 32 bytes')
    this.encryptionKey = subkey(master, 'secret encryption')
    this.hashKey = subkey(master, 'recovery code hash')
  }

  /**
   * Encrypt `plaintext`, bound to `context` (the user id) as additional data: a ciphertext copied to another user's
   * row does not open there. A fresh random 96-bit IV per value (NIST SP 800-38D §8.2.2).
   */
  seal (plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  open (sealed: string, context: string): string {
    const [version, iv, body, ...rest] = sealed.split('.')
    if (version !== VERSION || iv === undefined || body === undefined || rest.length > 0) throw new SecretBoxError('not a sealed value')
    const bytes = Buffer.from(body, 'base64url')
    if (bytes.length < TAG_BYTES) throw new SecretBoxError('not a sealed value')
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch (err) {
      throw new SecretBoxError('the sealed value does not open with this key', { cause: err })
    }
  }

  /**
   * HMAC-SHA-256 of a recovery code. The codes are 80 random bits, so no password hash (argon2) is needed: nobody can
   * search 2^80 candidates, fast hash or slow. The key adds that a copy of the database alone cannot test one at all.
   * Deterministic, so the store finds a code by its hash with one indexed lookup.
   */
  hashCode (userId: string, code: string): string {
    return createHmac('sha256', this.hashKey).update(JSON.stringify([userId, code])).digest('base64url')
  }
}
