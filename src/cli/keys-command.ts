// `npm run keys -- list | rotate [--alg ALG] | retire KID`: key lifecycle on the shared key directory.
import { parseArgs } from 'node:util'
import { systemClock, type Clock } from '../clock'
import type { Config } from '../config'
import { JWT_ALGS, type JwtAlg, type SigningKey } from '../keys/key'
import { KeyDirectory } from '../keys/key-directory'
import { verifyGraceMs } from '../keys/key-provider'
import { KeyRing } from '../keys/key-ring'

export interface KeysIo {
  stdout: { write (s: string): unknown }
  stderr: { write (s: string): unknown }
  clock?: Clock
}

const USAGE = `usage: npm run keys -- <command>
  list                 every key with its state (pending, signing, verify-only, expired, retired)
  rotate [--alg ALG]   add a key (EdDSA, ES256 or RS256; default JWT_ALG); running instances publish
                       it within JWT_KEYS_RELOAD and sign with it after JWT_KEYS_RELOAD + JWKS_MAX_AGE,
                       so every JWKS cache has it first
  retire KID           stop a key now (leaked key): every token it signed stops verifying
`

const iso = (ms: number | null): string => ms === null ? '-' : new Date(ms).toISOString()

function table (ring: KeyRing, now: number): string {
  const rows = ring.keys.map((k) => [k.kid, k.alg, ring.state(k, now), iso(k.createdAt), iso(k.signsFrom), iso(k.retiredAt)])
  const all = [['KID', 'ALG', 'STATE', 'CREATED', 'SIGNS FROM', 'RETIRED'], ...rows]
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n'
}

export async function runKeysCommand (args: string[], config: Config, io: KeysIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const clock = io.clock ?? systemClock
  const [command, ...rest] = args
  if (config.jwt.alg === 'HS256' && command !== undefined) {
    io.stderr.write('keys: JWT_ALG=HS256 uses JWT_SECRET, not the key directory; rotate by switching to an asymmetric algorithm\n')
    return 1
  }
  if (config.jwt.privateKeyPem !== undefined) {
    io.stderr.write('keys: JWT_PRIVATE_KEY is set, so the key comes from the environment and the key directory is not used\n')
    return 1
  }
  const dir = new KeyDirectory(config.jwt.keysDir)
  const ring = (keys: SigningKey[]): KeyRing => new KeyRing(keys, { clock, verifyGraceMs: verifyGraceMs(config.jwt) })
  const now = clock.now()
  try {
    switch (command) {
      case 'list': {
        io.stdout.write(table(ring(dir.load()), now))
        return 0
      }
      case 'rotate': {
        const { values } = parseArgs({ args: rest, options: { alg: { type: 'string' } }, strict: true })
        const alg = (values.alg ?? config.jwt.alg) as JwtAlg
        if (!JWT_ALGS.includes(alg) || alg === 'HS256') {
          io.stderr.write(`keys: --alg must be EdDSA, ES256 or RS256, not ${alg}\n`)
          return 2
        }
        const existing = dir.load()
        // The first key signs at once. A later one waits until running instances have re-read the
        // directory (JWT_KEYS_RELOAD) and every JWKS cache has then expired (JWKS_MAX_AGE).
        const signsFrom = existing.length === 0 ? now : now + (config.jwt.jwksMaxAge + config.jwt.keysReload) * 1000
        const key = dir.create(alg, { createdAt: now, signsFrom })
        io.stdout.write(`added ${key.kid} (${alg}): published now, signs from ${iso(signsFrom)}\n`)
        io.stdout.write(table(ring([...existing, key]), now))
        return 0
      }
      case 'retire': {
        const kid = rest[0]
        const keys = dir.load()
        const key = keys.find((k) => k.kid === kid)
        if (kid === undefined || key === undefined) {
          io.stderr.write(`keys: no key ${kid ?? '(missing KID)'} in ${config.jwt.keysDir}\n`)
          return kid === undefined ? 2 : 1
        }
        dir.writeMeta({ kid: key.kid, alg: key.alg, createdAt: key.createdAt, signsFrom: key.signsFrom, retiredAt: now })
        let after = dir.load()
        const r = ring(after)
        if (!after.some((k) => r.state(k, now) === 'signing')) {
          // Nothing else may sign: a replacement must sign at once or logins would fail.
          const replacement = dir.create(key.alg as Exclude<JwtAlg, 'HS256'>, { createdAt: now, signsFrom: now })
          io.stdout.write(`no other key could sign: added ${replacement.kid} (${replacement.alg}), signing now\n`)
          after = dir.load()
        }
        io.stdout.write(`retired ${key.kid}: tokens it signed are refused from now on\n`)
        io.stdout.write(table(ring(after), now))
        return 0
      }
      default:
        io.stderr.write(USAGE)
        return 2
    }
  } catch (err) {
    io.stderr.write(`keys: ${(err as Error).message}\n`)
    return 1
  }
}
