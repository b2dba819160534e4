// Fastify's server options: logger, Node's parser limits and timeouts, body limit, proxy trust and router.
import type { Server } from 'node:http'
import type { FastifyHttpOptions, FastifyServerOptions } from 'fastify'
import type { Config } from './config'
import { schemaController } from './lib/compile-on-first-use'
import { requestIdOf } from './lib/request-id'
import { clientErrorHandler, frameworkErrorHandler } from './plugins/problems'

/** The realm of every Bearer challenge (RFC 6750 §3). */
export const REALM = 'tessera'
/** Auth payloads are a few hundred bytes; 16 KiB leaves room and refuses floods early. */
export const BODY_LIMIT = 16 * 1024
/**
 * Node's default is 16 KiB. Tessera reads one credential header (a token is under 1 KiB, refused above
 * 4 KiB) and sets no cookies, so 8 KiB of headers is ample; bigger is refused by Node's parser (431)
 * before any allocation or hook of ours runs.
 */
export const MAX_HEADER_SIZE = 8 * 1024

/** Node's parser enforces these and answers 408 through clientErrorHandler (src/plugins/problems.ts). */
export interface HttpTimeouts {
  /** Headers alone, from the connection or the previous request (slowloris). */
  headersMs: number
  /** The whole request, headers and body: a body trickled a byte at a time is cut off here. */
  requestMs: number
  /** Socket inactivity while a request is handled; between requests Fastify's keepAliveTimeout applies. */
  idleMs: number
  /** How often Node looks for requests past the two limits above. */
  checkIntervalMs: number
}

/**
 * Fastify turns Node's request timeout off (0), so a client that sent its headers and then one body byte
 * every few seconds held a socket and a request open for as long as it liked (audit finding 5). A
 * Tessera body is at most BODY_LIMIT (16 KiB), which a 10 kbit/s link sends in 13 s: 30 s for the whole
 * request is generous, and headers (under MAX_HEADER_SIZE) get 10 s. Node checks every 30 s by default,
 * which would let a request outlive its limit by that much; once a second costs one walk of the
 * connection list. The idle limit is above any handler's time (argon2, a store call under its own timeouts),
 * so it only closes sockets whose peer vanished mid-request.
 */
export const HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, idleMs: 60_000, checkIntervalMs: 1000 }

/** Fields that hold a credential wherever they appear. */
const SECRET_FIELDS = ['password', 'currentPassword', 'newPassword', 'refreshToken', 'accessToken', 'passwordHash']
/**
 * Every key an object is logged under: Fastify's `req`, `res` and `err`, and ours (`err`, `mail`; the other
 * log calls pass plain scalars such as `code`, `status`, `kid`). Request bodies are never logged (the `req`
 * serializer below keeps method, URL and IP).
 */
const LOGGED_OBJECTS = ['req', 'res', 'err', 'mail']

/**
 * Never log credentials: the Authorization header, passwords, tokens (see the no-leak test). Exact paths, not
 * `*.password`: a leading wildcard makes pino run a redacting JSON.stringify over every binding of every
 * child logger, and Fastify makes one child per request, even when nothing is logged: about 7 µs a request in
 * a micro-benchmark, against about 1 µs with exact paths, which give the same protection under the keys above.
 * A log call that logs an object under another key must add that key to LOGGED_OBJECTS.
 */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'err.rawPacket',
  ...LOGGED_OBJECTS.flatMap((key) => SECRET_FIELDS.map((field) => `${key}.${field}`))
]

export function loggerOptions (config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // The query string is dropped from logged URLs: a client may put a token there (we refuse it).
      req: (req: { method: string, url: string, ip?: string }) => ({ method: req.method, url: req.url.split('?')[0], ip: req.ip })
    }
  }
}

/** What tests change: where logs go, and timeouts short enough to see one within a second. */
export interface ServerOverrides {
  logger?: FastifyServerOptions['logger']
  httpTimeouts?: Partial<HttpTimeouts>
  /** When route schemas are compiled (src/lib/compile-on-first-use.ts); the server defers them to first use. */
  compileSchemas?: 'first-use' | 'start'
}

export function serverOptions (config: Config, overrides: ServerOverrides = {}): FastifyHttpOptions<Server> {
  const timeouts = { ...HTTP_TIMEOUTS, ...overrides.httpTimeouts }
  return {
    logger: overrides.logger ?? loggerOptions(config),
    http: {
      maxHeaderSize: MAX_HEADER_SIZE,
      headersTimeout: timeouts.headersMs,
      // Also here so Node's check at creation (headers timeout <= request timeout) sees ours; Fastify sets it again below.
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs
    },
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler(REALM),
    bodyLimit: BODY_LIMIT,
    trustProxy: config.trustProxy,
    // Fastify's requestIdHeader would take any value as it comes; requestIdOf keeps only a well-formed one.
    // The id is on every log line of the request (reqId), in X-Request-Id and in every problem body.
    requestIdHeader: false,
    genReqId: requestIdOf,
    // While closing, src/plugins/drain.ts answers with our problem (Retry-After, Connection: close) instead.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 128 },
    // Bodies: TypeBox, strict (no coercion: ["pw"] is not a string), after the well-formed Unicode check of every
    // string; query and params are converted. Compiled per route on first use (src/lib/compile-on-first-use.ts).
    schemaController: schemaController(overrides.compileSchemas ?? 'first-use')
  }
}
