// One signing key: its algorithm, its lifecycle dates and its key material.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto'

export type JwtAlg = 'EdDSA' | 'ES256' | 'RS256' | 'HS256'
export const JWT_ALGS: readonly JwtAlg[] = ['EdDSA', 'ES256', 'RS256', 'HS256']

/** What is stored beside each key: all times are epoch milliseconds. */
export interface KeyMeta {
  kid: string
  alg: JwtAlg
  createdAt: number
  /** The key signs new tokens from this time on (until a newer key's signsFrom). */
  signsFrom: number
  /** Set by `keys retire`: from this time on the key neither signs nor verifies. */
  retiredAt: number | null
}

export interface PublicJwk {
  kty: string
  crv?: string
  x?: string
  y?: string
  n?: string
  e?: string
  kid: string
  alg: JwtAlg
  use: 'sig'
}

export interface SigningKey extends KeyMeta {
  /** PEM private key, or the shared secret for HS256. */
  privateKey: string
  /** PEM public key, or the shared secret for HS256. */
  verifyKey: string
  /** Public JWK for the JWKS; null for HS256, whose secret is never published. */
  jwk: PublicJwk | null
}

const MIN_RSA_BITS = 2048

/** Generate fresh key material for `alg` (asymmetric algorithms only). */
export function generatePrivateKey (alg: Exclude<JwtAlg, 'HS256'>): KeyObject {
  switch (alg) {
    case 'EdDSA': return generateKeyPairSync('ed25519').privateKey
    case 'ES256': return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    case 'RS256': return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  }
}

/** The algorithm a private key is able to sign with; refuses keys too weak for it. */
export function algOfKey (key: KeyObject): Exclude<JwtAlg, 'HS256'> {
  const type = key.asymmetricKeyType
  if (type === 'ed25519') return 'EdDSA'
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) throw new Error(`RSA key of ${bits} bits is too weak: at least ${MIN_RSA_BITS} bits are required`)
    return 'RS256'
  }
  throw new Error(`unsupported key type ${type ?? 'unknown'} (EdDSA/Ed25519, ES256/P-256 or RS256/RSA ≥ 2048 bits)`)
}

/** A kid from the public key's RFC 7638 thumbprint (48 bits: unique within a key set, and short, since it rides in every token). */
export function thumbprintKid (jwk: JsonWebKey): string {
  const members: Record<string, string | undefined> =
    jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { e: jwk.e, kty: jwk.kty, n: jwk.n }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url').slice(0, 8)
}

/** Build the in-memory key from its PEM private key and metadata. */
export function asymmetricKey (meta: KeyMeta, privatePem: string): SigningKey {
  const privateKey = createPrivateKey(privatePem)
  const alg = algOfKey(privateKey)
  if (alg !== meta.alg) throw new Error(`key ${meta.kid} is a ${alg} key but its metadata says ${meta.alg}`)
  const publicKey = createPublicKey(privateKey)
  const { kty, crv, x, y, n, e } = publicKey.export({ format: 'jwk' })
  const jwk: PublicJwk = { kty: kty ?? '', kid: meta.kid, alg, use: 'sig' }
  if (crv !== undefined) jwk.crv = crv
  if (x !== undefined) jwk.x = x
  if (y !== undefined) jwk.y = y
  if (n !== undefined) jwk.n = n
  if (e !== undefined) jwk.e = e
  return {
    ...meta,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    verifyKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    jwk
  }
}

/** The HS256 key made from JWT_SECRET; its kid is a hash so instances sharing the secret agree. */
export function hmacKey (secret: string, createdAt: number): SigningKey {
  const kid = 'hs-' + createHash('sha256').update('tessera-kid:' + secret).digest('base64url').slice(0, 8)
  return { kid, alg: 'HS256', createdAt, signsFrom: 0, retiredAt: null, privateKey: secret, verifyKey: secret, jwk: null }
}
