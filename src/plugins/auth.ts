// The Bearer hook for protected routes, and `app.tokens`, the one verifier of every kind of token (src/tokens/verifier.ts).
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Clock } from '../clock'
import type { KeyRing } from '../keys/key-ring'
import { ProblemError, Problems } from '../lib/problem'
import type { Metrics, TokenCheckResult } from '../metrics/metrics'
import type { Role } from '../store/user-store'
import { isSessionClaims, type AccessClaims } from '../tokens/claims'
import { TOKEN_KIND_NAMES, type TokenKind } from '../tokens/token-kinds'
import { TokenError } from '../tokens/token-error'
import { keyFetcher, signatureOptions, TokenVerifier, type SignedToken, type VerifierSettings } from '../tokens/verifier'
import { extractBearer } from './auth-header'

export interface AuthOptions extends Omit<VerifierSettings, 'cacheSize'> {
  keyRing: () => KeyRing
  clock: Clock
  /** JWT_VERIFY_CACHE. */
  verifyCacheSize: number
  /** REVOCATION_MODE=hybrid only; absent, the hook is the stateless one and nothing else runs. */
  revocation?: RevocationCheck
  /** Token checks and cache lookups are counted only when enabled; otherwise the hook is exactly the uncounted one. */
  metrics?: Metrics
}

/** The tessera_token_checks_total label of a refused access token. */
function refusal (err: unknown): TokenCheckResult {
  if (err instanceof TokenError) return err.reason === 'expired' ? 'expired' : 'invalid'
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
  }
  interface FastifyRequest {
    auth: AccessClaims | null
  }
}

async function authPlugin (app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const { issuer, audience, accessTtl, refreshTtl, resetTtl, verifyTtl, clockTolerance } = opts
  const settings: VerifierSettings = { issuer, audience, accessTtl, refreshTtl, resetTtl, verifyTtl, clockTolerance, cacheSize: opts.verifyCacheSize }
  // @fastify/jwt checks key, signature, typ, iss and aud: one registration per row of the table, all built alike.
  for (const kind of TOKEN_KIND_NAMES) {
    await app.register(fastifyJwt, { namespace: kind, secret: { public: keyFetcher(opts.keyRing) }, verify: signatureOptions(kind, settings) })
  }
  // With a key callback, fast-jwt's verifier answers with a promise (its types say otherwise).
  const checkSignature = async (kind: TokenKind, token: string): Promise<SignedToken> =>
    await (app.jwt[kind].verify<SignedToken>(token) as unknown as Promise<SignedToken>)
  const metrics = opts.metrics?.enabled === true ? opts.metrics : undefined
  const tokens = new TokenVerifier(checkSignature, opts.keyRing, opts.clock, settings,
    metrics === undefined ? undefined : (kind, hit) => { metrics.verifyCache(kind, hit) })
  app.decorate('tokens', tokens)
  app.decorateRequest('auth', null)

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    request.auth = await tokens.verify('access', extractBearer(request))
  }
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
