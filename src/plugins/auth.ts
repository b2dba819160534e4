// The Bearer hook for protected routes, and `app.tokens`, the one verifier of every kind of token (src/tokens/verifier.ts).
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import { ProblemError, Problems } from '../lib/problem'
import type { Metrics, TokenCheckResult } from '../metrics/metrics'
import type { Role } from '../store/user-store'
import { isSessionClaims, type AccessClaims, type Confirmation, type MfaClaims } from '../tokens/claims'
import { DpopChecker, DpopError, type DpopSettings } from '../tokens/dpop'
import type { ReplayCache } from '../tokens/dpop-replay'
import { TOKEN_KIND_NAMES, type TokenKind } from '../tokens/token-kinds'
import { TokenError } from '../tokens/token-error'
import { keyFetcher, signatureOptions, TokenVerifier, type SignedToken, type VerifierSettings } from '../tokens/verifier'
import { extractAccessToken, proofRequest } from './auth-header'

export interface AuthOptions extends Omit<VerifierSettings, 'cacheSize'> {
  keyRing: () => KeyRing
  clock: Clock
  /** JWT_VERIFY_CACHE. */
  verifyCacheSize: number
  /** REVOCATION_MODE=hybrid only; absent, the hook is the stateless one and nothing else runs. */
  revocation?: RevocationCheck
  /** DPOP and its settings (CLOCK_TOLERANCE comes from above), the jti replay cache and EXTERNAL_URL. */
  dpop: Omit<DpopSettings, 'clockTolerance'> & { replays: ReplayCache, externalUrl: URL | undefined }
  /** Token checks and cache lookups are counted only when enabled; otherwise the hook is exactly the uncounted one. */
  metrics?: Metrics
}

/** The tessera_token_checks_total label of a refused access token. */
function refusal (err: unknown): TokenCheckResult {
  if (err instanceof TokenError) return err.reason === 'expired' ? 'expired' : 'invalid'
  if (err instanceof DpopError) return 'dpop_invalid'
  if (!(err instanceof ProblemError)) return 'error'
  switch (err.code) {
    case 'ERR_AUTH_REQUIRED': return 'missing'
    case 'ERR_AUTH_MALFORMED': return 'malformed'
    case 'ERR_TOKEN_EXPIRED': return 'expired'
    case 'ERR_TOKEN_REVOKED': return 'revoked'
    case 'ERR_TOKEN_INVALID': return 'invalid'
    default: return 'error'
  }
}

/** Answers whether a verified access token was revoked (src/revocation/revocations.ts); synchronous on a cache hit. */
export interface RevocationCheck {
  isRevoked (userId: string, sid: string, ver: number): boolean | Promise<boolean>
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    /** One @fastify/jwt registration per token kind: `app.jwt.access`, `app.jwt.refresh`… */
    namespaces: TokenKind
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies a token of any kind; throws a TokenError, which the error handler answers (src/lib/problem.ts tokenProblem). */
    tokens: TokenVerifier
    /** onRequest hook for protected routes: sets `request.auth` or answers 400/401. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** preHandler factory: 403 insufficient_scope unless the token's role is `role`. */
    requireRole: (role: Role) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /**
     * preHandler of the routes that issue tokens from a body credential (register, login, refresh): checks the DPoP
     * proof if one came (DPOP=required: one must), and sets `request.dpopJkt` so the tokens are bound to its key.
     */
    dpopTokenRequest: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** A bound refresh token refreshes only with a proof from its key (RFC 9449 §5); throws a 400 DpopError otherwise. */
    checkRefreshBinding: (cnf: Confirmation | undefined, request: FastifyRequest) => void
  }
  interface FastifyRequest {
    auth: AccessClaims | null
    /** The thumbprint of the DPoP key this request proved it holds; tokens issued to it are bound to that key. */
    dpopJkt: string | undefined
    /** The verified mfaToken of the second login step (set before the rate limits, which count per token and account). */
    mfaClaims: MfaClaims | null
  }
}

async function authPlugin (app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const { issuer, audience, accessTtl, refreshTtl, resetTtl, verifyTtl, mfaTtl, clockTolerance } = opts
  const settings: VerifierSettings = { issuer, audience, accessTtl, refreshTtl, resetTtl, verifyTtl, mfaTtl, clockTolerance, cacheSize: opts.verifyCacheSize }
  // @fastify/jwt checks key, signature, typ, iss and aud: one registration per row of the table, all built alike.
  for (const kind of TOKEN_KIND_NAMES) {
    await app.register(fastifyJwt, { namespace: kind, secret: { public: keyFetcher(opts.keyRing) }, verify: signatureOptions(kind, settings) })
  }
  // With a key callback, fast-jwt's verifier answers with a promise (its types say otherwise).
  const checkSignature = async (kind: TokenKind, token: string): Promise<SignedToken> =>
    await (app.jwt[kind].verify<SignedToken>(token) as unknown as Promise<SignedToken>)
  const { replays, externalUrl, ...dpopSettings } = opts.dpop
  const dpop = new DpopChecker({ ...dpopSettings, clockTolerance }, replays, opts.clock)
  const metrics = opts.metrics?.enabled === true ? opts.metrics : undefined
  const tokens = new TokenVerifier(checkSignature, opts.keyRing, opts.clock, settings, dpop,
    metrics === undefined ? undefined : (kind, hit) => { metrics.verifyCache(kind, hit) })
  app.decorate('tokens', tokens)
  app.decorateRequest('auth', null)
  app.decorateRequest('dpopJkt', undefined)
  app.decorateRequest('mfaClaims', null)

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const { scheme, token } = extractAccessToken(request)
    const { claims, jkt } = await tokens.verifyAccess({ scheme, token, proofRequest: () => proofRequest(request, externalUrl) })
    request.auth = claims
    // A route that issues tokens to an authenticated caller (a password change) binds them to the same key.
    if (jkt !== undefined) request.dpopJkt = jkt
  }

  app.decorate('dpopTokenRequest', async (request: FastifyRequest): Promise<void> => {
    // DPOP=off: no token is bound, so proofs are not even read.
    if (dpop.mode === 'off') return
    const proof = proofRequest(request, externalUrl)
    if (proof.proofs.length === 0) {
      if (dpop.mode === 'required') throw new DpopError('dpop-required', 'token')
      return
    }
    request.dpopJkt = await dpop.check(proof, 'token')
  })
  app.decorate('checkRefreshBinding', (cnf: Confirmation | undefined, request: FastifyRequest): void => {
    if (cnf === undefined || cnf.jkt === request.dpopJkt) return
    throw new DpopError(request.dpopJkt === undefined ? 'missing' : 'wrong-key', 'token')
  })
  // Chosen once here, so stateless mode runs exactly the hook above and pays nothing for hybrid mode.
  const revocation = opts.revocation
  const check = revocation === undefined ? authenticate : async (request: FastifyRequest): Promise<void> => {
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
  }
  // Counted only with metrics on: an increment on either path, nothing at all without them.
  app.decorate('authenticate', metrics === undefined ? check : async (request: FastifyRequest): Promise<void> => {
    try {
      await check(request)
    } catch (err) {
      metrics.tokenCheck(refusal(err))
      throw err
    }
    metrics.tokenCheck('valid')
  })

  app.decorate('requireRole', (role: Role) => async (request: FastifyRequest) => {
    if (request.auth?.role !== role) throw Problems.insufficientScope(role)
  })
}

export default fp(authPlugin, { name: 'tessera-auth', fastify: '5.x' })
