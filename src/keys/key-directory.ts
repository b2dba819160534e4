// Keys on disk: one PEM private key (0600) and one JSON metadata file per kid in JWT_KEYS_DIR.
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { asymmetricKey, generatePrivateKey, JWT_ALGS, thumbprintKid, type JwtAlg, type KeyMeta, type SigningKey } from './key'

export class KeyFileError extends Error {
  override name = 'KeyFileError'
}

const META_SUFFIX = '.json'
const PEM_SUFFIX = '.pem'

function isKeyMeta (value: unknown): value is KeyMeta {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.kid === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v.kid) &&
    typeof v.alg === 'string' && (JWT_ALGS as readonly string[]).includes(v.alg) && v.alg !== 'HS256' &&
    typeof v.createdAt === 'number' && typeof v.signsFrom === 'number' &&
    (v.retiredAt === null || typeof v.retiredAt === 'number')
}

/** Refuse a private key that group or others can read: a leaked key forges every token. */
function assertPrivate (file: string): void {
  if (process.platform === 'win32') return
  const mode = statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(`private key ${file} is readable by group or others (mode ${mode.toString(8)}); run: chmod 600 ${file}`)
  }
}

function writeAtomic (file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, data, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, file)
}

export class KeyDirectory {
  constructor (readonly dir: string) {}

  /** Every key in the directory. A metadata file without its PEM is skipped (a write in progress). */
  load (): SigningKey[] {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const keys: SigningKey[] = []
    for (const name of names.filter((n) => n.endsWith(META_SUFFIX)).sort()) {
      const metaFile = join(this.dir, name)
      let meta: unknown
      try {
        meta = JSON.parse(readFileSync(metaFile, 'utf8'))
      } catch (err) {
        throw new KeyFileError(`cannot read key metadata ${metaFile}: ${(err as Error).message}`)
      }
      if (!isKeyMeta(meta)) throw new KeyFileError(`invalid key metadata in ${metaFile}`)
      const pemFile = join(this.dir, meta.kid + PEM_SUFFIX)
      if (!names.includes(meta.kid + PEM_SUFFIX)) continue
      assertPrivate(pemFile)
      try {
        keys.push(asymmetricKey(meta, readFileSync(pemFile, 'utf8')))
      } catch (err) {
        throw new KeyFileError(`invalid private key ${pemFile}: ${(err as Error).message}`)
      }
    }
    return keys
  }

  /** Generate a key and write it (PEM first, metadata last, each atomically). */
  create (alg: Exclude<JwtAlg, 'HS256'>, times: { createdAt: number, signsFrom: number }): SigningKey {
    const privateKey = generatePrivateKey(alg)
    const kid = thumbprintKid(privateKey.export({ format: 'jwk' }))
    const meta: KeyMeta = { kid, alg, createdAt: times.createdAt, signsFrom: times.signsFrom, retiredAt: null }
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    writeAtomic(join(this.dir, kid + PEM_SUFFIX), pem, 0o600)
    this.writeMeta(meta)
    return asymmetricKey(meta, pem)
  }

  writeMeta (meta: KeyMeta): void {
    writeAtomic(join(this.dir, meta.kid + META_SUFFIX), JSON.stringify(meta, null, 2) + '\n', 0o644)
  }
}
