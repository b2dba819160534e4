// DPoP proofs for tests: honest ones from jose (an implementation we did not write), and hostile ones with any header.
import type * as JoseModule from 'jose' with { 'resolution-mode': 'import' }
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export const jose = async (): Promise<typeof JoseModule> => await import('jose')

export interface ProofKey { privateKey: KeyObject, publicJwk: Record<string, unknown>, alg: string }

export function proofKey (alg: 'ES256' | 'EdDSA' | 'RS256' = 'ES256'): ProofKey {
  const { privateKey, publicKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>, alg }
}

/** RFC 9449 §4.2 ath, computed here without the server's helper. */
export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url')

/** What inject() addresses: http://localhost:80 (Host localhost:80), so proofs name http://localhost/… */
export const INJECT_ORIGIN = 'http://localhost'

export interface ProofClaims { htm: string, htu: string, iat?: number, jti?: string, ath?: string, nonce?: string, [k: string]: unknown }

/** A proof signed by `key`; `header` overrides or adds header members (typ, alg, jwk…), for hostile proofs. */
export async function makeProof (key: ProofKey, claims: ProofClaims, header: Record<string, unknown> = {}, nowMs = Date.now()): Promise<string> {
  const { SignJWT } = await jose()
  const payload = { jti: randomUUID(), iat: Math.floor(nowMs / 1000), ...claims }
  return await new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...header }).sign(key.privateKey)
}

/** RFC 7638 SHA-256 thumbprint by jose. */
export async function thumbprint (jwk: Record<string, unknown>): Promise<string> {
  const { calculateJwkThumbprint } = await jose()
  return await calculateJwkThumbprint(jwk, 'sha256')
}

export function claimsOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
}

/** A request with an access token bound to `key`: a fresh proof for this method and URL, and the DPoP scheme. */
export async function dpopInject (
  app: FastifyInstance, key: ProofKey, token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, nowMs = Date.now(), payload?: object
): Promise<LightMyRequestResponse> {
  const proof = await makeProof(key, { htm: method, htu: INJECT_ORIGIN + url.split('?')[0], ath: ath(token) }, {}, nowMs)
  return await app.inject({ method, url, headers: { authorization: `DPoP ${token}`, dpop: proof }, ...(payload !== undefined ? { payload } : {}) })
}
