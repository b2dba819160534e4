// Supplies the current KeyRing: from JWT_SECRET (HS256) or the key directory, creating a first key if empty.
import type { Clock } from '../clock'
import type { Config } from '../config'
import { hmacKey, type SigningKey } from './key'
import { KeyDirectory } from './key-directory'
import { KeyRing } from './key-ring'

export interface KeyProvider {
  ring (): KeyRing
  close (): void
}

interface Logger { info (obj: object, msg: string): void }

export function verifyGraceMs (jwt: Config['jwt']): number {
  return (Math.max(jwt.accessTtl, jwt.refreshTtl) + jwt.clockTolerance) * 1000
}

/** A provider over a fixed set of keys (tests, and HS256 where the secret is the only key). */
export function staticKeyProvider (keys: SigningKey[], jwt: Config['jwt'], clock: Clock): KeyProvider {
  const ring = new KeyRing(keys, { clock, verifyGraceMs: verifyGraceMs(jwt) })
  return { ring: () => ring, close: () => {} }
}

export function createKeyProvider (jwt: Config['jwt'], clock: Clock, log: Logger): KeyProvider {
  if (jwt.alg === 'HS256') {
    if (jwt.secret === undefined) throw new Error('JWT_SECRET is required with JWT_ALG=HS256')
    return staticKeyProvider([hmacKey(jwt.secret, clock.now())], jwt, clock)
  }
  const dir = new KeyDirectory(jwt.keysDir)
  let keys = dir.load()
  if (keys.length === 0) {
    const now = clock.now()
    const key = dir.create(jwt.alg, { createdAt: now, signsFrom: now })
    log.info({ kid: key.kid, alg: key.alg, dir: jwt.keysDir }, 'no signing key found: generated one')
    keys = [key]
  }
  return staticKeyProvider(keys, jwt, clock)
}
