// DPoP (RFC 9449): checks a proof of possession against the request it came with, and answers the thumbprint of its
// key, which tokens are bound to (`cnf.jkt`). Proof signatures and thumbprints are jose's, not ours.
import type * as JoseModule from 'jose' with { 'resolution-mode': 'import' }
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { nowSeconds, type Clock } from '../clock'
import type { ReplayCache } from './dpop-replay'

let jose: Promise<typeof JoseModule> | undefined
/** jose is an ES module: loaded on the first proof, so a server that never sees one does not pay for it. */
const loadJose = async (): Promise<typeof JoseModule> => await (jose ??= import('jose'))

/** Asymmetric algorithms only (RFC 9449 §4.3: never `none` nor a MAC); what the `algs` of a DPoP challenge lists. */
export const DPOP_ALGS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const
export const DPOP_TYP = 'dpop+jwt'
/** An RSA-4096 proof is about 2.2 KiB; anything past this is refused before it is decoded. */
export const MAX_PROOF_LENGTH = 4096
const MAX_JTI_LENGTH = 256
/** Proof headers whose key is already imported and thumbprinted: a client repeats its header on every proof. */
const KEY_CACHE_SIZE = 4096
/** JWK members that only a private or symmetric key has (RFC 7517, RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

export type DpopMode = 'off' | 'optional' | 'required'

/** Why a proof, or a token's binding, was refused; src/lib/problem.ts dpopProblem turns it into the answer. */
export type DpopReason =
  | 'missing' | 'multiple' | 'too-long' | 'malformed' | 'wrong-type' | 'bad-alg' | 'private-key' | 'bad-signature'
  | 'htm' | 'htu' | 'stale' | 'future' | 'replayed' | 'ath' | 'wrong-key' | 'use-nonce'
  | 'bound-as-bearer' | 'unbound-as-dpop' | 'dpop-required'

/** Where the proof came: a token endpoint answers 400 (RFC 9449 §5), a protected resource 401 with a challenge (§7.1). */
export type ProofSite = 'token' | 'resource'

export class DpopError extends Error {
  constructor (readonly reason: DpopReason, readonly site: ProofSite, readonly nonce?: string) {
    super(`DPoP refused at ${site}: ${reason}`)
    this.name = 'DpopError'
  }
}

/** What the HTTP layer tells about one request: its method, the URL the client used (no query), its DPoP headers. */
export interface ProofRequest {
  method: string
  /** scheme://host[:port]/path, as the client addressed it (EXTERNAL_URL behind a proxy). */
  htu: string
  /** Every DPoP header value, in order; more than one is refused. */
  proofs: string[]
}

export interface DpopSettings {
  mode: DpopMode
  /** DPOP_PROOF_MAX_AGE, seconds. */
  maxAge: number
  /** CLOCK_TOLERANCE, seconds. */
  clockTolerance: number
  nonce: boolean
  nonceSecret: string | undefined
}

const base64url = (bytes: Buffer): string => bytes.toString('base64url')
/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII text. */
export const accessTokenHash = (token: string): string => base64url(createHash('sha256').update(token, 'ascii').digest())

/**
 * scheme://host[:port]/path of a URL, normalised by WHATWG URL (case, default port, dot segments); null if unusable.
 * User info is refused, not dropped: `origin` would leave it out, and a URI that has it is not the request's.
 */
export function targetUri (value: string): string | null {
  if (!URL.canParse(value)) return null
  const url = new URL(value)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username !== '' || url.password !== '' || /^[^:]+:\/*[^/?#]*@/.test(value)) return null
  return url.origin + url.pathname
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Stateless server nonces (RFC 9449 §8): an HMAC of the time slot, so every instance with the same secret derives
 * the same ones and nothing is stored. The current slot's and the previous one's are accepted.
 */
class Nonces {
  private readonly secret: Buffer
  constructor (secret: string | undefined, private readonly slotSeconds: number) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8')
  }

  current (now: number): string {
    return this.of(Math.floor(now / this.slotSeconds))
  }

  accepts (nonce: unknown, now: number): boolean {
    const slot = Math.floor(now / this.slotSeconds)
    return typeof nonce === 'string' && (nonce === this.of(slot) || nonce === this.of(slot - 1))
  }

  private of (slot: number): string {
    return base64url(createHmac('sha256', this.secret).update(`dpop-nonce:${slot}`).digest())
  }
}

/** A proof header that passed every header check, with its public key imported and its RFC 7638 thumbprint. */
interface CheckedHeader { key: Awaited<ReturnType<typeof JoseModule.importJWK>>, jkt: string }

export class DpopChecker {
  private readonly nonces: Nonces | null
  /**
   * Keyed by the proof's exact header segment (typ, alg and jwk), which a client sends unchanged with every proof:
   * importing a JWK and hashing it cost about as much as the signature check. Only headers that passed every check
   * below enter; the signature is still checked on every proof.
   */
  private readonly headers = new LRUCache<string, CheckedHeader>({ max: KEY_CACHE_SIZE })

  constructor (readonly settings: DpopSettings, private readonly replays: ReplayCache, private readonly clock: Clock) {
    this.nonces = settings.nonce ? new Nonces(settings.nonceSecret, settings.maxAge) : null
  }

  get mode (): DpopMode {
    return this.settings.mode
  }

  /** A fresh nonce for a DPoP-Nonce header, when DPOP_NONCE=on. */
  nonce (): string | undefined {
    return this.nonces?.current(nowSeconds(this.clock))
  }

  /**
   * The thumbprint of the key that signed the request's one proof, or a DpopError. At a protected resource the proof
   * must also carry `ath` for `accessToken` and be signed by the key `jkt` names. Every check runs before the jti is
   * remembered, so a refused proof uses up nothing.
   */
  async check (request: ProofRequest, site: ProofSite, bound?: { accessToken: string, jkt: string }): Promise<string> {
    const refuse = (reason: DpopReason): DpopError => new DpopError(reason, site, reason === 'use-nonce' ? this.nonce() : undefined)
    if (request.proofs.length === 0) throw refuse('missing')
    // Node joins repeated headers with ", ", which no compact JWS contains.
    if (request.proofs.length > 1 || request.proofs[0].includes(',')) throw refuse('multiple')
    const proof = request.proofs[0].trim()
    if (proof.length > MAX_PROOF_LENGTH) throw refuse('too-long')
    const { jwtVerify } = await loadJose()
    const segment = proof.slice(0, Math.max(0, proof.indexOf('.')))
    const header = this.headers.get(segment) ?? await this.checkHeader(segment, refuse)
    let payload: Record<string, unknown>
    try {
      ({ payload } = await jwtVerify(proof, header.key, { typ: DPOP_TYP, algorithms: [...DPOP_ALGS], currentDate: new Date(this.clock.now()) }))
    } catch (err) {
      throw refuse((err as { code?: unknown }).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'bad-signature' : 'malformed')
    }
    const { jti, htm, htu, iat } = payload
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw refuse('malformed')
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('malformed')
    if (htm !== request.method) throw refuse('htm')
    // The URI without query and fragment (RFC 9449 §4.2): a proof that carries either names some other request.
    if (typeof htu !== 'string' || /[?#]/.test(htu) || targetUri(htu) !== request.htu) throw refuse('htu')
    const now = nowSeconds(this.clock)
    const { maxAge, clockTolerance } = this.settings
    if (iat > now + clockTolerance) throw refuse('future')
    if (iat < now - maxAge - clockTolerance) throw refuse('stale')
    if (this.nonces !== null && !this.nonces.accepts(payload.nonce, now)) throw refuse('use-nonce')
    if (bound !== undefined && payload.ath !== accessTokenHash(bound.accessToken)) throw refuse('ath')
    const { jkt } = header
    if (bound !== undefined && jkt !== bound.jkt) throw refuse('wrong-key')
    // Remembered until the proof is too old to pass the iat check anyway.
    if (!await this.replays.firstUse(`${jkt}.${jti}`, iat + maxAge + clockTolerance, now)) throw refuse('replayed')
    return jkt
  }

  /** typ, alg and a public jwk, imported (jose refuses a key that does not fit the alg) and thumbprinted; then cached. */
  private async checkHeader (segment: string, refuse: (reason: DpopReason) => DpopError): Promise<CheckedHeader> {
    const { decodeProtectedHeader, importJWK, calculateJwkThumbprint } = await loadJose()
    let header: Record<string, unknown>
    try {
      header = decodeProtectedHeader(`${segment}..`) as Record<string, unknown>
    } catch {
      throw refuse('malformed')
    }
    if (header.typ !== DPOP_TYP) throw refuse('wrong-type')
    if (typeof header.alg !== 'string' || !(DPOP_ALGS as readonly string[]).includes(header.alg)) throw refuse('bad-alg')
    const jwk = header.jwk
    if (!isObject(jwk)) throw refuse('malformed')
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw refuse('private-key')
    let checked: CheckedHeader
    try {
      const key = await importJWK({ ...jwk, ext: true }, header.alg)
      if (key instanceof Uint8Array || key.type !== 'public') throw new Error('not a public key')
      checked = { key, jkt: await calculateJwkThumbprint(jwk, 'sha256') }
    } catch {
      throw refuse('malformed')
    }
    this.headers.set(segment, checked)
    return checked
  }
}
