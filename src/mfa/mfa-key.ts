// The MFA key file: 32 random bytes (base64, mode 0600) beside the signing keys, created on first start when
// MFA_ENCRYPTION_KEY is not set.
import { randomBytes } from 'node:crypto'
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const MFA_KEY_FILE = 'mfa.key'

export class MfaKeyError extends Error {
  override name = 'MfaKeyError'
}

interface Log { info (obj: object, msg: string): void }

function read (file: string): Buffer {
  if (process.platform !== 'win32') {
    const mode = statSync(file).mode & 0o777
    // Whoever reads this key reads every TOTP secret in the database.
    if ((mode & 0o077) !== 0) throw new MfaKeyError(`MFA key ${file} is readable by group or others (mode ${mode.toString(8)}); run: chmod 600 ${file}`)
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
  if (key.length !== 32) throw new MfaKeyError(`MFA key ${file} does not hold 32 bytes in base64`)
  return key
}

/**
 * The key in `dir`, created when missing. Written to a temporary file first, then linked into place: link() fails
 * when the name exists, so of two workers starting together one key wins and both read it.
 */
export function loadOrCreateMfaKey (dir: string, log?: Log): Buffer {
  const file = join(dir, MFA_KEY_FILE)
  if (statSync(file, { throwIfNoEntry: false }) !== undefined) return read(file)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, randomBytes(32).toString('base64') + '\n', { mode: 0o600 })
  chmodSync(tmp, 0o600)
  try {
    linkSync(tmp, file)
    log?.info({ path: file }, 'generated the MFA key (encrypts TOTP secrets at rest); back it up with the signing keys')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(tmp)
  }
  return read(file)
}
