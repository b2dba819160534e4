// The Bearer verification hook (Authorization header, in-memory keys only), and the checks of refresh and emailed link tokens.
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { nowSeconds, type Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import { Problems, type ProblemError } from '../lib/problem'
import type { Role } from '../store/user-store'
import { isCanonicalCompactJws } from '../tokens/compact-jws'
import { VerifiedTokens } from '../tokens/verified-tokens'
import {
  ACCESS_TYP, REFRESH_TYP, RESET_TYP, VERIFY_TYP, checkTimes, isAccessClaims, isRefreshClaims, isResetClaims, isSessionClaims, isVerifyClaims,
  resetAudience, verifyAudience, type AccessClaims, type RefreshClaims, type ResetClaims, type VerifyClaims
} from '../tokens/claims'

export interface AuthOptions {
  keyRing: () => KeyRing
  clock: Clock
  issuer: string
  audience: string
  accessTtl: number
  refreshTtl: number
  clockTolerance: number
  verifyCacheSize: number
  /** REVOCATION_MODE=hybrid only; absent, the hook is the stateless one and nothing else runs. */
  revocation?: RevocationCheck
}

/** Answers whether a verified access token was revoked (src/revocation/revocations.ts); synchronous on a cache hit. */
export interface RevocationCheck {
  isRevoked (userId: string, sid: string, ver: number): boolean | Promise<boolean>
}

type Verify = () => Promise<unknown>

/** The emailed link tokens and the claims each one carries once verified. */
export interface LinkClaims { reset: ResetClaims, verify: VerifyClaims }

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for protected routes: sets `request.auth` or answers 400/401. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** preHandler factory: 403 insufficient_scope unless the token's role is `role`. */
    requireRole: (role: Role) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** Verify a refresh token taken from the request body; throws a 401 problem. */
    verifyRefreshToken: (request: FastifyRequest, token: string) => Promise<RefreshClaims>
    /** Verify an emailed link token taken from the request body; throws its purpose's 400 problem. */
    verifyLinkToken: <P extends keyof LinkClaims>(request: FastifyRequest, purpose: P, token: string) => Promise<LinkClaims[P]>
  }
  interface FastifyRequest {
    auth: AccessClaims | null
    accessJwtVerify: Verify
    refreshJwtVerify: Verify
    resetJwtVerify: Verify
    verificationJwtVerify: Verify
    /** The token the current verification reads (header for access, body for refresh and link tokens). */
    tesseraToken: string | null
  }
}

/** RFC 6750 §2.1 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i
const SCHEME = /^Bearer(?:\s|$)/i
/** Anything bigger is not a token we issued; refuse before decoding (bounded work per request). */
const MAX_TOKEN_LENGTH = 4096

class UnknownKeyError extends Error {
  readonly code = 'ERR_UNKNOWN_KEY'
}

function countAuthorizationHeaders (raw: string[]): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 13 && raw[i].toLowerCase() === 'authorization') n++
  return n
}

/** The token from `Authorization: Bearer …`, or the problem that describes why there is none. */
export function extractBearer (request: FastifyRequest): string {
  const header = request.headers.authorization
  const query = request.query as Record<string, unknown> | undefined
  if (query !== undefined && query !== null && typeof query === 'object' && 'access_token' in query) {
    throw Problems.malformedAuthorization('Tokens are accepted only in the Authorization header, not in the query string')
  }
  if (header === undefined || header === '') throw Problems.missingCredentials()
  // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous (RFC 6750 §2).
  if (countAuthorizationHeaders(request.raw.rawHeaders) > 1) throw Problems.malformedAuthorization('Send exactly one Authorization header')
  if (!SCHEME.test(header)) throw Problems.missingCredentials()
  const match = BEARER.exec(header)
  if (match === null) throw Problems.malformedAuthorization('Expected: Authorization: Bearer <token>')
  if (match[1].length > MAX_TOKEN_LENGTH) throw Problems.invalidToken('The access token is too long')
  return match[1]
}

function describeJwtFailure (err: unknown): string {
  const code = (err as { code?: unknown }).code
  if (err instanceof UnknownKeyError) return 'The token is signed with an unknown or retired key'
  if (code === 'FAST_JWT_INVALID_TYPE') return 'The token has the wrong type'
  if (code === 'FAST_JWT_MISSING_SIGNATURE') return 'The token is not signed'
  return 'The token is invalid'
}

async function authPlugin (app: FastifyInstance, opts: AuthOptions): Promise<void> {
  // Pinned per key (RFC 8725 §3.1): the header's alg must be the alg of the key its kid names.
  const resolveKey = (_req: FastifyRequest, decoded: unknown, cb: (e: Error | null, secret: string | undefined) => void): void => {
    const header = (decoded as { header?: { kid?: unknown, alg?: unknown } }).header
    const key = opts.keyRing().verificationKey(header?.kid, header?.alg)
    if (key === undefined) cb(new UnknownKeyError('unknown key'), undefined)
    else cb(null, key.verifyKey)
  }
  const verifyOptions = (typ: string, audience: string, ttl: number) => ({
    extractToken: (request: FastifyRequest) => request.tesseraToken ?? undefined,
    checkTyp: typ,
    allowedIss: opts.issuer,
    allowedAud: audience,
    requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
    // Dates are checked against the injectable clock below, so the library's are off.
    ignoreExpiration: true,
    ignoreNotBefore: true,
    cache: opts.verifyCacheSize > 0 ? opts.verifyCacheSize : false,
    cacheTTL: (ttl + opts.clockTolerance) * 1000,
    errorCacheTTL: -1
  })
  await app.register(fastifyJwt, {
    namespace: 'access',
    secret: { public: resolveKey },
    decode: { complete: true },
    // The success-only VerifiedTokens cache below stands in front; fast-jwt's own would cache failures too.
    verify: { ...verifyOptions(ACCESS_TYP, opts.audience, opts.accessTtl), cache: false, complete: true }
  })
  // Refresh tokens are rare (once per access TTL per client): no cache needed.
  await app.register(fastifyJwt, {
    namespace: 'refresh',
    secret: { public: resolveKey },
    decode: { complete: true },
    verify: { ...verifyOptions(REFRESH_TYP, opts.issuer, opts.refreshTtl), cache: false }
  })
  // Emailed link tokens: the same keys and pinning, their own typ and audience, no cache (a reset
  // token is used once). The access path above is untouched.
  await app.register(fastifyJwt, {
    namespace: 'reset',
    secret: { public: resolveKey },
    decode: { complete: true },
    verify: { ...verifyOptions(RESET_TYP, resetAudience(opts.issuer), 0), cache: false }
  })
  await app.register(fastifyJwt, {
    namespace: 'verification',
    secret: { public: resolveKey },
    decode: { complete: true },
    verify: { ...verifyOptions(VERIFY_TYP, verifyAudience(opts.issuer), 0), cache: false }
  })
  const links = {
    reset: { verify: (r: FastifyRequest) => r.resetJwtVerify(), check: isResetClaims, problem: Problems.invalidResetToken },
    verify: { verify: (r: FastifyRequest) => r.verificationJwtVerify(), check: isVerifyClaims, problem: Problems.invalidVerifyToken }
  }

  app.decorateRequest('auth', null)
  app.decorateRequest('tesseraToken', null)

  const timeProblem = (verdict: 'expired' | 'not-yet-valid', refresh: boolean): ProblemError => {
    if (refresh) return Problems.invalidRefreshToken(verdict === 'expired' ? 'ERR_REFRESH_TOKEN_EXPIRED' : 'ERR_REFRESH_TOKEN_INVALID')
    return verdict === 'expired' ? Problems.expiredToken() : Problems.invalidToken('The token is not valid yet')
  }

  const verified = new VerifiedTokens(opts.verifyCacheSize, opts.keyRing)
  const verifySignature = async (request: FastifyRequest, token: string): Promise<AccessClaims> => {
    let decoded: { header?: { kid?: unknown, alg?: unknown }, payload?: unknown }
    try {
      decoded = await request.accessJwtVerify() as typeof decoded
    } catch (err) {
      throw Problems.invalidToken(describeJwtFailure(err))
    }
    const { header, payload } = decoded
    if (!isAccessClaims.Check(payload)) throw Problems.invalidToken('The token claims are invalid')
    // The resolver only returned a key for a string kid and alg, so these are strings here.
    verified.set(token, payload, { kid: String(header?.kid), alg: String(header?.alg) })
    return payload
  }

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const token = extractBearer(request)
    // Before the cache, which is keyed by the token's text: one token, one spelling (compact-jws.ts).
    if (!isCanonicalCompactJws(token)) throw Problems.invalidToken('The token is not a JWS in canonical base64url')
    request.tesseraToken = token
    const payload = verified.get(token) ?? await verifySignature(request, token)
    const verdict = checkTimes(payload, nowSeconds(opts.clock), opts.clockTolerance)
    if (verdict !== 'ok') {
      verified.delete(token)
      throw timeProblem(verdict, false)
    }
    request.auth = payload
  }
  // Chosen once here, so stateless mode runs exactly the hook above and pays nothing for hybrid mode.
  const revocation = opts.revocation
  app.decorate('authenticate', revocation === undefined ? authenticate : async (request: FastifyRequest): Promise<void> => {
    await authenticate(request)
    const claims = request.auth
    // A token from before hybrid mode carries no session to check: refused, and the client's refresh starts one.
    if (!isSessionClaims.Check(claims)) {
      request.auth = null
      throw Problems.invalidToken('The token carries no session; refresh it')
    }
    let revoked = revocation.isRevoked(claims.sub, claims.sid, claims.ver)
    if (typeof revoked !== 'boolean') revoked = await revoked
    if (revoked) {
      request.auth = null
      throw Problems.revokedToken()
    }
  })

  app.decorate('requireRole', (role: Role) => async (request: FastifyRequest) => {
    if (request.auth?.role !== role) throw Problems.insufficientScope(role)
  })

  app.decorate('verifyRefreshToken', async (request: FastifyRequest, token: string): Promise<RefreshClaims> => {
    if (token.length > MAX_TOKEN_LENGTH || !isCanonicalCompactJws(token)) throw Problems.invalidRefreshToken()
    request.tesseraToken = token
    let payload: unknown
    try {
      payload = await request.refreshJwtVerify()
    } catch {
      throw Problems.invalidRefreshToken()
    }
    if (!isRefreshClaims.Check(payload)) throw Problems.invalidRefreshToken()
    const verdict = checkTimes(payload, nowSeconds(opts.clock), opts.clockTolerance)
    if (verdict !== 'ok') throw timeProblem(verdict, true)
    return payload
  })

  app.decorate('verifyLinkToken', async <P extends keyof LinkClaims>(request: FastifyRequest, purpose: P, token: string): Promise<LinkClaims[P]> => {
    const link = links[purpose]
    if (token.length > MAX_TOKEN_LENGTH || !isCanonicalCompactJws(token)) throw link.problem()
    request.tesseraToken = token
    let payload: unknown
    try {
      payload = await link.verify(request)
    } catch {
      throw link.problem()
    }
    if (!link.check.Check(payload)) throw link.problem()
    const verdict = checkTimes(payload, nowSeconds(opts.clock), opts.clockTolerance)
    if (verdict !== 'ok') throw link.problem(verdict === 'expired')
    return payload as LinkClaims[P]
  })
}

export default fp(authPlugin, { name: 'tessera-auth', fastify: '5.x' })
