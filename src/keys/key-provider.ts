// Supplies the current KeyRing: from JWT_SECRET (HS256), JWT_PRIVATE_KEY, or the key directory,
// which is re-read periodically so a rotation made by the CLI or another instance is picked up.
import { closeSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../clock'
import type { Config } from '../config'
import { asymmetricKey, algOfKey, hmacKey, thumbprintKid, type SigningKey } from './key'
import { KeyDirectory } from './key-directory'
import { KeyRing } from './key-ring'
import { createPrivateKey } from 'node:crypto'

export interface KeyProvider {
  ring (): KeyRing
  /** Re-read the key source now (the periodic reload calls this too). */
  reload (): void
  close (): void
}

interface Logger {
  info (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** The longest lifetime of any token a key signs (sessions and emailed links), plus the clock tolerance. */
export function verifyGraceMs (jwt: Config['jwt']): number {
  return (Math.max(jwt.accessTtl, jwt.refreshTtl, jwt.resetTtl, jwt.verifyTtl, jwt.mfaTtl) + jwt.clockTolerance) * 1000
}

/** A provider over a fixed set of keys (tests, HS256, and a key given in the environment). */
export function staticKeyProvider (keys: SigningKey[], jwt: Config['jwt'], clock: Clock): KeyProvider {
  const ring = new KeyRing(keys, { clock, verifyGraceMs: verifyGraceMs(jwt) })
  return { ring: () => ring, reload: () => {}, close: () => {} }
}

/** A fingerprint of the directory listing, so an unchanged directory is not re-parsed. */
function listingStamp (dir: string): string {
  try {
    return readdirSync(dir).sort().map((name) => `${name}:${statSync(join(dir, name)).mtimeMs}`).join('|')
  } catch {
    return ''
  }
}

const sleep = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) }

/**
 * Load the directory, generating the first key if it is empty. Instances starting together on an
 * empty shared directory must not each make their own first key: an exclusive lock file decides
 * which one generates, the others wait for its key.
 */
function loadOrCreate (dir: KeyDirectory, jwt: Config['jwt'], clock: Clock, log: Logger): SigningKey[] {
  const keys = dir.load()
  if (keys.length > 0 || jwt.alg === 'HS256') return keys
  mkdirSync(dir.dir, { recursive: true, mode: 0o700 })
  const lock = join(dir.dir, '.generate.lock')
  let fd: number
  try {
    fd = openSync(lock, 'wx', 0o600)
  } catch {
    for (let waited = 0; waited < 10_000; waited += 100) {
      sleep(100)
      const found = dir.load()
      if (found.length > 0) return found
    }
    throw new Error(`${lock} exists but no key appeared: remove the stale lock file if no other instance is starting`)
  }
  try {
    const again = dir.load()
    if (again.length > 0) return again
    const now = clock.now()
    const key = dir.create(jwt.alg, { createdAt: now, signsFrom: now })
    log.info({ kid: key.kid, alg: key.alg, dir: dir.dir }, 'no signing key found: generated one')
    return [key]
  } finally {
    closeSync(fd)
    unlinkSync(lock)
  }
}

class DirectoryKeyProvider implements KeyProvider {
  private current: KeyRing
  private stamp: string
  private readonly timer: NodeJS.Timeout

  constructor (private readonly dir: KeyDirectory, private readonly jwt: Config['jwt'], private readonly clock: Clock, private readonly log: Logger) {
    this.current = this.makeRing(loadOrCreate(dir, jwt, clock, log))
    this.stamp = listingStamp(dir.dir)
    this.timer = setInterval(() => this.reloadIfChanged(), jwt.keysReload * 1000)
    this.timer.unref()
  }

  private makeRing (keys: SigningKey[]): KeyRing {
    return new KeyRing(keys, { clock: this.clock, verifyGraceMs: verifyGraceMs(this.jwt) })
  }

  ring (): KeyRing { return this.current }

  private reloadIfChanged (): void {
    if (listingStamp(this.dir.dir) !== this.stamp) this.reload()
  }

  reload (): void {
    try {
      const stamp = listingStamp(this.dir.dir)
      const keys = this.dir.load()
      // An empty or unreadable directory must not take the service down: keep the keys we have.
      if (keys.length === 0) return
      this.current = this.makeRing(keys)
      this.stamp = stamp
      this.log.info({ kids: keys.map((k) => k.kid) }, 'signing keys reloaded')
    } catch (err) {
      this.log.error({ err }, 'key directory reload failed; keeping the previous keys')
    }
  }

  close (): void { clearInterval(this.timer) }
}

/** The key from JWT_PRIVATE_KEY (PEM): signs from the epoch; its kid is its thumbprint. */
function environmentKey (pem: string, alg: Config['jwt']['alg']): SigningKey {
  const privateKey = createPrivateKey(pem)
  const keyAlg = algOfKey(privateKey)
  if (keyAlg !== alg) throw new Error(`JWT_PRIVATE_KEY is a ${keyAlg} key but JWT_ALG is ${alg}`)
  const kid = thumbprintKid(privateKey.export({ format: 'jwk' }))
  return asymmetricKey({ kid, alg: keyAlg, createdAt: 0, signsFrom: 0, retiredAt: null }, pem)
}

export function createKeyProvider (jwt: Config['jwt'], clock: Clock, log: Logger): KeyProvider {
  if (jwt.alg === 'HS256') {
    if (jwt.secret === undefined) throw new Error('JWT_SECRET is required with JWT_ALG=HS256')
    return staticKeyProvider([hmacKey(jwt.secret, clock.now())], jwt, clock)
  }
  if (jwt.privateKeyPem !== undefined) return staticKeyProvider([environmentKey(jwt.privateKeyPem, jwt.alg)], jwt, clock)
  return new DirectoryKeyProvider(new KeyDirectory(jwt.keysDir), jwt, clock, log)
}

/**
 * A provider made the first time a key is needed. The command line signs nothing for its administration
 * commands, so it must neither generate a first key into JWT_KEYS_DIR nor fail on a key it never uses.
 */
export function keysOnFirstUse (create: () => KeyProvider): KeyProvider {
  let provider: KeyProvider | undefined
  const made = (): KeyProvider => (provider ??= create())
  return {
    ring: () => made().ring(),
    reload: () => { made().reload() },
    close: () => { provider?.close() }
  }
}
