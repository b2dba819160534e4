// A separate service that trusts Tessera through its JWKS URL alone (@fastify/jwt + get-jwks).
// Run: TESSERA_JWKS_URL=http://127.0.0.1:3000/.well-known/jwks.json PORT=3001 node --import tsx examples/downstream/server.ts
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import buildGetJwks from 'get-jwks'
import { checkDpop, DPOP_ALGS, replayGuard } from './dpop'

export interface DownstreamConfig {
  host: string
  port: number
  /** Tessera's JWKS, e.g. https://auth.example.com/.well-known/jwks.json. The only thing trusted. */
  jwksUrl: URL
  /** `iss` of Tessera's tokens (Tessera's JWT_ISSUER). */
  issuer: string
  /** `aud` of Tessera's access tokens (Tessera's JWT_AUDIENCE). */
  audience: string
  /** Seconds a fetched key is trusted without asking the JWKS again: the delay before a retired key is refused here. */
  jwksCacheTtl: number
  /** The URL clients reach this service at, behind a proxy; DPoP proofs name it. Default: each request's scheme and Host. */
  publicUrl: URL | undefined
  logLevel: string
}

/**
 * Tessera's asymmetric algorithms. Never HS256: Tessera does not publish its secret, and accepting HS256
 * here would let anyone "sign" with the public key as an HMAC secret (algorithm confusion, RFC 8725 §2.1).
 */
export const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const
type Algorithm = typeof ALGORITHMS[number]
/** Tessera's kids are short base64url thumbprints; anything else is refused before any JWKS request. */
const KID = /^[A-Za-z0-9_-]{1,64}$/
/** get-jwks passes `timeout` to fetch(), which ignores it: bound the JWKS request ourselves. */
const JWKS_TIMEOUT_MS = 5_000
/** Leeway for exp/nbf/iat between this host's clock and Tessera's (Tessera's own default is 30 s). */
const CLOCK_TOLERANCE_MS = 30_000
const REALM = 'downstream'
/** Either scheme: Bearer for unbound tokens, DPoP for tokens bound to the client's key (RFC 9449 §7.1). */
const CREDENTIALS = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i

/** The key named by the token is not in Tessera's JWKS (unknown, retired, or with another alg). */
class UnknownKeyError extends Error {
  readonly code = 'DOWNSTREAM_UNKNOWN_KEY'
}

/** Tessera's JWKS could not be fetched: the token may be fine, we cannot tell (503, not 401). */
class JwksUnavailableError extends Error {
  readonly code = 'DOWNSTREAM_JWKS_UNAVAILABLE'
}

function positiveInteger (env: Record<string, string | undefined>, name: string, def: number, min: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name}: expected an integer ≥ ${min}, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

export function configFromEnv (env: Record<string, string | undefined> = process.env): DownstreamConfig {
  const rawUrl = env.TESSERA_JWKS_URL ?? 'http://127.0.0.1:3000/.well-known/jwks.json'
  let jwksUrl: URL
  try {
    jwksUrl = new URL(rawUrl)
  } catch {
    throw new Error(`TESSERA_JWKS_URL: not a URL: ${JSON.stringify(rawUrl)}`)
  }
  if (jwksUrl.protocol !== 'https:' && jwksUrl.protocol !== 'http:') throw new Error('TESSERA_JWKS_URL: must be an http(s) URL')
  if (jwksUrl.username !== '' || jwksUrl.password !== '' || jwksUrl.hash !== '' || jwksUrl.pathname === '/') {
    throw new Error('TESSERA_JWKS_URL: give the full JWKS path, without credentials or fragment')
  }
  return {
    host: env.HOST ?? '127.0.0.1',
    port: positiveInteger(env, 'PORT', 3001, 0),
    jwksUrl,
    issuer: env.TESSERA_ISSUER ?? 'tessera',
    audience: env.TESSERA_AUDIENCE ?? 'tessera-api',
    // Tessera's JWKS_MAX_AGE default (10 min): a retired key is refused here at most this long after Tessera drops it.
    jwksCacheTtl: positiveInteger(env, 'JWKS_CACHE_TTL', 600, 1),
    publicUrl: env.PUBLIC_URL === undefined || env.PUBLIC_URL === '' ? undefined : new URL(env.PUBLIC_URL),
    logLevel: env.LOG_LEVEL ?? 'info'
  }
}

function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the JWKS within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * kid + alg from the token header → PEM public key from Tessera's JWKS (cached JWKS_CACHE_TTL).
 * Three fixes over the bare `getJwks.getPublicKey` recipe, each covered by test/examples/downstream.test.ts:
 *  - get-jwks 11 converts with jwk-to-pem, which knows no OKP keys, so Ed25519 (Tessera's default) fails:
 *    take the JWK with getJwk and let node:crypto convert it;
 *  - get-jwks serves a *stale* key when the refreshed JWKS no longer contains it (and re-arms that stale
 *    entry on every request), so a retired key would never stop verifying under steady traffic: its stale
 *    fallback is switched off (the service fails closed with 503 if the JWKS is down and the key expired);
 *  - the domain comes from configuration, never from the token's `iss` (that would let a token name the
 *    server that vouches for it), and the header's alg must be the alg the JWK declares.
 */
export function createKeyResolver (config: Pick<DownstreamConfig, 'jwksUrl' | 'jwksCacheTtl'>): (header: unknown) => Promise<string> {
  const getJwks = buildGetJwks({
    ttl: config.jwksCacheTtl * 1000,
    max: 100,
    jwksPath: config.jwksUrl.pathname + config.jwksUrl.search
  })
  getJwks.staleCache.get = () => undefined
  const domain = config.jwksUrl.origin + '/'
  const pems = new WeakMap<object, string>()

  return async (header: unknown): Promise<string> => {
    const { kid, alg } = (header ?? {}) as { kid?: unknown, alg?: unknown }
    if (typeof kid !== 'string' || !KID.test(kid)) throw new UnknownKeyError('the token names no usable kid')
    if (typeof alg !== 'string' || !(ALGORITHMS as readonly string[]).includes(alg)) throw new UnknownKeyError('algorithm not allowed')
    let jwk: Awaited<ReturnType<typeof getJwks.getJwk>>
    try {
      jwk = await withTimeout(getJwks.getJwk({ domain, kid, alg: alg as Algorithm }), JWKS_TIMEOUT_MS)
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (code === 'JWK_NOT_FOUND' || code === 'NO_JWKS') throw new UnknownKeyError('no such key in the JWKS')
      throw new JwksUnavailableError('the JWKS could not be fetched', { cause: err })
    }
    // get-jwks also matches a JWK that declares no alg; Tessera always declares it, so insist.
    if (jwk.alg !== alg || (jwk.use !== undefined && jwk.use !== 'sig')) throw new UnknownKeyError('key/alg mismatch')
    let pem = pems.get(jwk)
    if (pem === undefined) {
      pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
      pems.set(jwk, pem)
    }
    return pem
  }
}

const challenge = (error?: string, description?: string): string =>
  `Bearer realm="${REALM}"` + (error === undefined ? '' : `, error="${error}"`) +
  (description === undefined ? '' : `, error_description="${description}"`)

/** RFC 6750 §3: no credentials → bare challenge; bad request → 400; any token failure → 401 invalid_token. */
function refuse (request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const code = (err as { code?: unknown }).code
  if (err instanceof JwksUnavailableError) {
    request.log.error({ err: err.cause }, 'Tessera JWKS unavailable')
    return reply.code(503).header('retry-after', '5').send({ error: 'temporarily_unavailable', message: 'Cannot check the token now' })
  }
  if (code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER') {
    return reply.code(401).header('www-authenticate', challenge()).send({ error: 'unauthorized', message: 'Authorization: Bearer <token> required' })
  }
  if (code === 'FST_JWT_BAD_REQUEST') {
    return reply.code(400).header('www-authenticate', challenge('invalid_request', 'Expected: Authorization: Bearer <token>'))
      .send({ error: 'invalid_request', message: 'Expected: Authorization: Bearer <token>' })
  }
  const description = code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED' ? 'The access token expired' : 'The access token is invalid'
  // The reason is logged, never echoed: library messages can carry claim values.
  request.log.info({ reason: typeof code === 'string' ? code : 'unknown' }, 'token refused')
  return reply.code(401).header('www-authenticate', challenge('invalid_token', description))
    .send({ error: 'invalid_token', message: description })
}

export async function buildDownstream (config: DownstreamConfig): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: config.logLevel, redact: ['req.headers.authorization'] } })
  const resolveKey = createKeyResolver(config)

  await app.register(fastifyJwt, {
    secret: (_request: FastifyRequest, token: TokenOrHeader) => resolveKey('header' in token ? token.header : undefined),
    decode: { complete: true },
    verify: {
      algorithms: [...ALGORITHMS],
      allowedIss: config.issuer,
      // A Tessera refresh token has aud = issuer and typ rt+jwt: both checks below refuse it.
      allowedAud: config.audience,
      checkTyp: 'at+jwt',
      requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
      clockTolerance: CLOCK_TOLERANCE_MS,
      // No verification cache: a cached verdict would outlive the key's retirement.
      cache: false,
      extractToken: (request: FastifyRequest) => CREDENTIALS.exec(request.headers.authorization ?? '')?.[2]
    }
  })
  const firstUse = replayGuard()

  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const header = request.headers.authorization
    if (header === undefined || !/^(?:Bearer|DPoP)(?:\s|$)/i.test(header)) return refuse(request, reply, { code: 'FST_JWT_NO_AUTHORIZATION_IN_HEADER' })
    try {
      await request.jwtVerify()
    } catch (err) {
      return refuse(request, reply, err)
    }
    const sub = (request.user as { sub?: unknown }).sub
    if (typeof sub !== 'string' || sub === '') return refuse(request, reply, new UnknownKeyError('no sub'))
    const [, scheme, token] = CREDENTIALS.exec(header) as RegExpExecArray
    const base = config.publicUrl === undefined ? `${request.protocol}://${request.host}` : config.publicUrl.origin + config.publicUrl.pathname.replace(/\/+$/, '')
    const proofs: string[] = []
    const raw = request.raw.rawHeaders
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'dpop') proofs.push(raw[i + 1])
    const why = await checkDpop({
      scheme: scheme.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
      token,
      claims: request.user as { cnf?: { jkt?: unknown } },
      method: request.method,
      url: base + request.url.split('?', 1)[0],
      proofs
    }, firstUse)
    if (why === null) return undefined
    request.log.info({ reason: why }, 'DPoP refused')
    return reply.code(401).header('www-authenticate', `DPoP algs="${DPOP_ALGS.join(' ')}", error="invalid_dpop_proof", error_description="${why}"`)
      .send({ error: 'invalid_dpop_proof', message: why })
  }

  app.get('/health', async () => ({ status: 'ok' }))
  app.get('/hello', { onRequest: authenticate }, async (request) => ({ hello: (request.user as { sub: string }).sub }))
  return app
}

async function main (): Promise<void> {
  let config: DownstreamConfig
  try {
    config = configFromEnv(process.env)
  } catch (err) {
    process.stderr.write(`downstream: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const app = await buildDownstream(config)
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    await app.close()
  })
  // Fastify logs "Server listening at http://HOST:PORT" (PORT=0 picks a free port).
  await app.listen({ host: config.host, port: config.port })
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`downstream: failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
