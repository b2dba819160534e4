// Abuse limits on register, login, refresh, the routes that send mail, those that check the current password and those
// that take a second-factor code: counters
// from @fastify/rate-limit (memory, or Redis when REDIS_URL is set), answered as problem+json 429 with Retry-After and
// IETF RateLimit headers.
import { createHash } from 'node:crypto'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config, RateRule } from '../../config'
import { clientNetwork } from '../../lib/client-network'
import { normalizeEmail } from '../../lib/email'
import { Problems } from '../../lib/problem'
import { createRedisClient } from '../../lib/redis'
import { noMetrics, type Metrics } from '../../metrics/metrics'

/**
 * password-check: the routes that take the current password (change it, delete the account). mfa: the routes that
 * take a TOTP or recovery code (the second login step, and the /v1/me/mfa routes).
 */
export type RateLimitScope = 'register' | 'login' | 'refresh' | 'mail' | 'password-check' | 'mfa'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which abuse limits guard the route. */
    rateLimitScope?: RateLimitScope
    /**
     * The account address the route's per-address limits count, when it is not the body's `email` (a route that
     * acts on the caller's own account). Runs after validation and the route's own preValidation hooks.
     */
    rateLimitAddress?: (request: FastifyRequest) => string | undefined
  }
}

export interface RateLimitOptions {
  rules: Config['rateLimits']
  /** Redis for counters shared across instances; without it each instance counts in memory. */
  redisUrl: string | undefined
  /** tessera_rate_limited_total; default nothing. */
  metrics?: Metrics
}

interface Limit {
  /** Unique per counter: it is part of the counter's key, so two limits never share a count. */
  name: string
  rule: RateRule
  /** Who is counted (a client network, an account…), or null when the limit does not apply to this request. */
  subject: (request: FastifyRequest) => readonly string[] | null
}

interface Outcome { isAllowed: boolean, isExceeded?: boolean, remaining?: number, ttlInSeconds?: number, max?: number }
type Checker = (request: FastifyRequest) => Promise<Outcome>

/**
 * A hash of the structured value, never the parts joined: with `:` between them, an IPv6 address
 * ending in `:5` plus `v@x.com` and the address without it plus `5:v@x.com` would share one counter.
 */
function counterKey (limit: string, subject: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify([limit, ...subject])).digest('base64url')
}

/**
 * The client's network (see clientNetwork), so spellings of one address and the addresses of one
 * IPv6 /64 share a counter. An entry that is no address can only come from a proxy trusted in
 * error; it counts under the connecting peer rather than getting a counter of its own.
 */
function clientOf (request: FastifyRequest): string {
  return clientNetwork(request.ip) ?? clientNetwork(request.socket.remoteAddress ?? '') ?? 'unknown'
}

/** The address the request acts on (the route's rateLimitAddress, or the body's email), normalized; null without one. */
function addressOf (request: FastifyRequest): string | null {
  const from = request.routeOptions.config.rateLimitAddress
  const email = from === undefined ? (request.body as { email?: unknown } | undefined)?.email : from(request)
  return typeof email === 'string' ? normalizeEmail(email) : null
}

const byIp = (request: FastifyRequest): readonly string[] => [clientOf(request)]

/**
 * Per account AND per IP: a limit on the account alone would let an attacker lock its owner
 * out from anywhere by failing logins on purpose.
 */
const byIpAndEmail = (request: FastifyRequest): readonly string[] | null => {
  const address = addressOf(request)
  return address === null ? null : [clientOf(request), address]
}

/**
 * Per address alone, not per IP: the point is that nobody, from however many addresses, can flood
 * one inbox. The counter counts requests, not mails, so a 429 says nothing about the account either.
 */
const byMailAddress = (request: FastifyRequest): readonly string[] | null => {
  const address = addressOf(request)
  return address === null ? null : [address]
}

/**
 * Per account alone: only a holder of the account's access token gets this far, so nobody else can
 * use the counter up, and whoever stole a token cannot buy more guesses with more addresses.
 */
const byTokenSubject = (request: FastifyRequest): readonly string[] | null =>
  request.auth === null ? null : [request.auth.sub]

/**
 * The account a second factor is tried for: the verified mfaToken's subject (the second login step checks the token
 * in preValidation, before the limits), else the access token's. Only someone who knew the password, or holds an
 * access token, gets this far, so nobody else can use the account's quota up.
 */
const byMfaAccount = (request: FastifyRequest): readonly string[] | null => {
  const sub = request.mfaClaims?.sub ?? request.auth?.sub
  return sub === undefined ? null : [sub]
}

/** Per mfaToken (its jti): one password check buys only this many code guesses, whatever the account quota. */
const byMfaToken = (request: FastifyRequest): readonly string[] | null =>
  request.mfaClaims === null || request.mfaClaims === undefined ? null : [request.mfaClaims.jti]

function limitsFor (rules: Config['rateLimits']): Record<RateLimitScope, Limit[]> {
  return {
    register: [{ name: 'register-ip', rule: rules.registerIp, subject: byIp }],
    login: [
      { name: 'login-ip', rule: rules.loginIp, subject: byIp },
      { name: 'login-account', rule: rules.loginAccount, subject: byIpAndEmail }
    ],
    refresh: [{ name: 'refresh-ip', rule: rules.refreshIp, subject: byIp }],
    mail: [
      { name: 'mail-ip', rule: rules.mailIp, subject: byIp },
      { name: 'mail-address', rule: rules.mailAddress, subject: byMailAddress }
    ],
    'password-check': [
      { name: 'password-check-ip', rule: rules.passwordCheckIp, subject: byIp },
      { name: 'password-check-account', rule: rules.passwordCheckAccount, subject: byTokenSubject }
    ],
    // Per address with login's rule: codes are tried right after logins, and by as many people.
    mfa: [
      { name: 'mfa-ip', rule: rules.loginIp, subject: byIp },
      { name: 'mfa-account', rule: rules.mfaAccount, subject: byMfaAccount },
      { name: 'mfa-token', rule: rules.mfaToken, subject: byMfaToken }
    ]
  }
}

async function rateLimitPlugin (app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  const redis = opts.redisUrl === undefined
    ? undefined
    : createRedisClient(opts.redisUrl, app.log, { whileDown: 'rate limits are not enforced until it is back', whenBack: 'rate limits are enforced again' })
  if (redis !== undefined) {
    app.addHook('onClose', async () => { redis.close() })
    // The client refuses commands until it is ready, and the limiter would let those first requests through uncounted.
    await redis.ready()
  }
  await app.register(fastifyRateLimit, {
    global: false,
    // An unreachable Redis must not lock everyone out: requests pass unlimited and the error is logged.
    skipOnError: true,
    ...(redis !== undefined ? { redis: redis.commands } : {})
  })
  const checkers = new Map<Limit, Checker>()
  const scopes = limitsFor(opts.rules)
  for (const limits of Object.values(scopes)) {
    for (const limit of limits) {
      checkers.set(limit, app.createRateLimit({
        max: limit.rule.max,
        timeWindow: limit.rule.window * 1000,
        keyGenerator: (request: FastifyRequest) => counterKey(limit.name, limit.subject(request) ?? [])
      }) as Checker)
    }
  }

  const metrics = opts.metrics ?? noMetrics
  const enforce = (scope: RateLimitScope, limits: readonly Limit[]) => async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const policies: string[] = []
    const states: string[] = []
    let exceeded: { name: string, retryAfter: number } | null = null
    for (const limit of limits) {
      if (limit.subject(request) === null) continue
      const outcome = await checkers.get(limit)!(request)
      if (outcome.isAllowed) continue
      const reset = outcome.ttlInSeconds ?? limit.rule.window
      policies.push(`"${limit.name}";q=${limit.rule.max};w=${limit.rule.window}`)
      states.push(`"${limit.name}";r=${outcome.remaining ?? 0};t=${reset}`)
      if (outcome.isExceeded === true && (exceeded === null || reset > exceeded.retryAfter)) exceeded = { name: limit.name, retryAfter: reset }
    }
    // draft-ietf-httpapi-ratelimit-headers: structured fields naming each policy.
    if (policies.length > 0) {
      reply.header('ratelimit-policy', policies.join(', '))
      reply.header('ratelimit', states.join(', '))
    }
    if (exceeded !== null) {
      metrics.rateLimited(scope, exceeded.name)
      throw Problems.rateLimited(exceeded.name, exceeded.retryAfter)
    }
  }

  // Only the routes with a scope get the hook (a preHandler, after validation); the others pay nothing per request.
  // It goes first among the route's own preHandlers, as a hook of the root would.
  app.addHook('onRoute', (route) => {
    const scope = route.config?.rateLimitScope
    if (scope === undefined) return
    const own = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler]
    route.preHandler = [enforce(scope, scopes[scope]), ...own]
  })
}

export default fp(rateLimitPlugin, { name: 'tessera-rate-limit', fastify: '5.x' })
