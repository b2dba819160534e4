// Keys and access tokens for the bench: Tessera's key files, peer keys, and tokens minted with fast-jwt.
import { randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { systemClock } from '../../src/clock'
import { generatePrivateKey, asymmetricKey, thumbprintKid, type JwtAlg } from '../../src/keys/key'
import { KeyDirectory } from '../../src/keys/key-directory'
import { newId, newSessionId } from '../../src/lib/ids'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { ACCESS_TYP } from '../../src/tokens/claims'

/** Tessera's defaults (JWT_ISSUER, JWT_AUDIENCE, ACCESS_TOKEN_TTL), used by every target. */
export const ISSUER = 'tessera'
export const AUDIENCE = 'tessera-api'
export const ACCESS_TTL_S = 15 * 60

export interface KeyMaterial {
  alg: JwtAlg
  kid: string
  /** PEM private key, or the HS256 secret. */
  signKey: string
  /** PEM public key, or the HS256 secret. */
  verifyKey: string
}

/** A key made the way Tessera makes its own (Ed25519, P-256 or RSA 2048), or a 32-byte HS256 secret. */
export function newKey (alg: JwtAlg): KeyMaterial {
  if (alg === 'HS256') {
    const secret = randomBytes(32).toString('base64url')
    return { alg, kid: 'hs-bench', signKey: secret, verifyKey: secret }
  }
  const privateKey = generatePrivateKey(alg)
  const kid = thumbprintKid(privateKey.export({ format: 'jwk' }))
  const key = asymmetricKey({ kid, alg, createdAt: 0, signsFrom: 0, retiredAt: null }, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
  return { alg, kid, signKey: key.privateKey, verifyKey: key.verifyKey }
}

/**
 * Write a signing key into `dir` exactly as Tessera's first start does (KeyDirectory.create, signing
 * from now), so the server finds it and the bench can sign with the same private key.
 */
export function tesseraKeyDir (dir: string, alg: Exclude<JwtAlg, 'HS256'> = 'EdDSA'): KeyMaterial {
  const now = Date.now()
  const key = new KeyDirectory(dir).create(alg, { createdAt: now, signsFrom: now })
  return { alg, kid: key.kid, signKey: key.privateKey, verifyKey: key.verifyKey }
}

export interface MintedTokens {
  tokens: string[]
  subs: string[]
}

/**
 * `count` access tokens for `count` distinct users, shaped like Tessera's (header `{ alg, typ: "at+jwt",
 * kid }`, claims `iss aud sub role iat exp jti`), with 26-character user ids like Tessera's.
 */
export function mintAccessTokens (key: KeyMaterial, count: number): MintedTokens {
  const sign = accessSigner(key)
  const now = Math.floor(Date.now() / 1000)
  const tokens: string[] = new Array<string>(count)
  const subs: string[] = new Array<string>(count)
  for (let i = 0; i < count; i++) {
    const sub = newId()
    subs[i] = sub
    tokens[i] = sign({
      iss: ISSUER, aud: AUDIENCE, sub, role: 'user', iat: now, exp: now + ACCESS_TTL_S, jti: randomBytes(12).toString('base64url')
    })
  }
  return { tokens, subs }
}

/**
 * REVOCATION_MODE=hybrid tokens: `count` users created in the SQLite database at `dbFile` through Tessera's own
 * store (migrated first, as the server's start would), each with one session, and an access token per user
 * shaped like hybrid mode's (claims `iss aud sub role ver sid iat exp jti`), `ver` the stored token version.
 * The server is started on that database afterwards, so each check finds a real user and a live session.
 */
export async function mintSessionTokens (key: KeyMaterial, dbFile: string, count: number): Promise<MintedTokens> {
  const store = createSqliteStore({ path: dbFile, clock: systemClock })
  try {
    await store.migrate()
    const sign = accessSigner(key)
    const now = Math.floor(Date.now() / 1000)
    const tokens: string[] = new Array<string>(count)
    const subs: string[] = new Array<string>(count)
    for (let i = 0; i < count; i++) {
      const user = await store.create({ email: `bench-${i}@bench.test`, name: null, role: 'user', passwordHash: 'bench: never logs in' })
      subs[i] = user.id
      tokens[i] = sign({
        iss: ISSUER, aud: AUDIENCE, sub: user.id, role: 'user', ver: user.tokenVersion, sid: newSessionId(), iat: now, exp: now + ACCESS_TTL_S, jti: randomBytes(12).toString('base64url')
      })
    }
    return { tokens, subs }
  } finally {
    await store.close()
  }
}

const accessSigner = (key: KeyMaterial): (payload: Record<string, unknown>) => string =>
  createSigner({ key: key.signKey, algorithm: key.alg, kid: key.kid, header: { alg: key.alg, typ: ACCESS_TYP } }) as
    (payload: Record<string, unknown>) => string
