// DPoP (RFC 9449) for the SPA: one ECDSA P-256 key per browser profile, created non-extractable (no script, not even
// this one, can read its private half) and kept in IndexedDB, so it survives reloads; every request to Tessera carries
// a fresh proof signed with it, and Tessera binds the tokens to it. A token copied out of this browser is worthless.

const DB = 'tessera-dpop'
const STORE = 'keys'
const KEY_ID = 'current'

function requestResult<T> (request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'))
  })
}

async function openDb (): Promise<IDBDatabase> {
  const request = indexedDB.open(DB, 1)
  request.onupgradeneeded = () => { request.result.createObjectStore(STORE) }
  return await requestResult(request)
}

async function loadOrCreate (): Promise<CryptoKeyPair> {
  const db = await openDb()
  try {
    const stored = await requestResult(db.transaction(STORE).objectStore(STORE).get(KEY_ID)) as CryptoKeyPair | undefined
    if (stored !== undefined) return stored
    // extractable: false applies to the private key; the public key stays exportable, as the proof header needs it.
    const created = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
    await requestResult(db.transaction(STORE, 'readwrite').objectStore(STORE).put(created, KEY_ID))
    return created
  } finally {
    db.close()
  }
}

let keyPair: Promise<CryptoKeyPair> | null = null
/** This browser's DPoP key, created on first use. */
export const dpopKey = (): Promise<CryptoKeyPair> => (keyPair ??= loadOrCreate())

const base64url = (bytes: Uint8Array): string => {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}
const encodeJson = (value: unknown): string => base64url(new TextEncoder().encode(JSON.stringify(value)))

/** A proof for one request: method, URL without query, and `ath` when it carries an access token. */
export async function dpopProof (method: string, url: string, accessToken?: string): Promise<string> {
  const { privateKey, publicKey } = await dpopKey()
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey)
  const target = new URL(url)
  const payload: Record<string, unknown> = {
    jti: crypto.randomUUID(), htm: method, htu: target.origin + target.pathname, iat: Math.floor(Date.now() / 1000)
  }
  if (accessToken !== undefined) {
    payload.ath = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))))
  }
  const input = `${encodeJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })}.${encodeJson(payload)}`
  // WebCrypto's ECDSA signature is r || s, the JWS ES256 format.
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input))
  return `${input}.${base64url(new Uint8Array(signature))}`
}
