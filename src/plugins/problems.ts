// The one error handler and the one not-found handler: every failure becomes RFC 9457 problem+json.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { TesseraError } from '../errors'
import { bearerChallenge, dpopChallenge, dpopProblem, problemBody, ProblemError, problemFor, Problems, tokenProblem, type FieldError } from '../lib/problem'
import { newRequestId, REQUEST_ID_HEADER } from '../lib/request-id'
import { DpopError } from '../tokens/dpop'
import { PROBLEM_CONTENT_TYPE } from '../schemas/problem'
import { TokenError } from '../tokens/token-error'

interface ValidationIssue { instancePath?: string, message?: string, params?: Record<string, unknown> }

function fieldErrors (issues: ValidationIssue[]): FieldError[] {
  return issues.slice(0, 20).map((issue) => ({
    path: issue.instancePath === undefined || issue.instancePath === '' ? '/' : issue.instancePath,
    message: issue.message ?? 'is invalid'
  }))
}

/** Map service, framework and plugin errors to our problems; anything unknown is a 500 with no internals. */
export function toProblem (err: FastifyError): ProblemError {
  if (err instanceof ProblemError) return err
  if (err instanceof TesseraError) return problemFor(err)
  if (err instanceof TokenError) return tokenProblem(err)
  if (err instanceof DpopError) return dpopProblem(err)
  // Services let a store outage through (StoreUnavailableError): "try again later", not a bug.
  if ((err as { code?: unknown }).code === 'ERR_STORE_UNAVAILABLE') return Problems.storeUnavailable()
  if (Array.isArray(err.validation)) {
    const where = err.validationContext ?? 'request'
    return Problems.validation(fieldErrors(err.validation as ValidationIssue[]), `The ${where} is invalid`)
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Problems.unsupportedMediaType()
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Problems.payloadTooLarge()
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return Problems.malformedJson()
    // Raised before routing, so only through buildApp's frameworkErrors: a path that is not percent-encoded UTF-8
    // (a lone surrogate can only arrive that way) or a path parameter over maxParamLength.
    case 'FST_ERR_BAD_URL':
      return new ProblemError({ status: 400, code: 'ERR_BAD_REQUEST', title: 'Bad request', detail: 'The URL path is not valid percent-encoded UTF-8' })
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ProblemError({ status: 400, code: 'ERR_BAD_REQUEST', title: 'Bad request', detail: 'A path parameter is too long' })
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError({ status: 400, code: 'ERR_BAD_REQUEST', title: 'Bad request', detail: 'Content-Length does not match the body' })
  }
  if (err instanceof SyntaxError && err.statusCode === 400) return Problems.malformedJson()
  const status = err.statusCode ?? 500
  if (status === 429) {
    return new ProblemError({ status, code: 'ERR_RATE_LIMITED', title: 'Too many requests', detail: 'Too many requests; retry after the time in Retry-After' })
  }
  if (status >= 400 && status < 500) {
    return new ProblemError({ status, code: 'ERR_BAD_REQUEST', title: 'Bad request', detail: 'The request cannot be processed' })
  }
  return Problems.internal()
}

export function sendProblem (reply: FastifyReply, problem: ProblemError, realm: string): FastifyReply {
  if (problem.bearer !== undefined) reply.header('www-authenticate', bearerChallenge(realm, problem.bearer))
  if (problem.dpop !== undefined) reply.header('www-authenticate', dpopChallenge(problem.dpop))
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
  // Also here: errors found before routing (frameworkErrors) skip the onRequest hook that sets it.
  reply.header(REQUEST_ID_HEADER, reply.request.id)
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problemBody(problem, reply.request.id))
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (oversized headers, bad framing, timeouts):
 * answered as problem+json like every other failure. Fastify's default handler logs the error with its
 * `rawPacket` — the request bytes, Authorization header included — so only the code is logged here.
 */
export function clientErrorHandler (this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  // ECONNRESET or an already closed socket: nobody is left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const problem = err.code === 'HPE_HEADER_OVERFLOW'
    ? Problems.headersTooLarge()
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ProblemError({ status: 408, code: 'ERR_REQUEST_TIMEOUT', title: 'Request timeout', detail: 'The request took too long to arrive' })
      : new ProblemError({ status: 400, code: 'ERR_BAD_REQUEST', title: 'Bad request', detail: 'The request is not valid HTTP' })
  // No request was parsed, so none of its headers is trusted: a new id, logged and answered.
  const requestId = newRequestId()
  this.log.debug({ code: err.code, status: problem.status, reqId: requestId }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify(problemBody(problem, requestId))
    socket.write(`HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

/** Fastify's `frameworkErrors` option: errors found before routing, answered as problem+json like the rest. */
export function frameworkErrorHandler (realm: string) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const problem = toProblem(err)
    request.log.info({ code: problem.code, status: problem.status }, 'request refused')
    sendProblem(reply, problem, realm)
  }
}

async function problemsPlugin (app: FastifyInstance, opts: { realm: string }): Promise<void> {
  // Every answer names its request (src/lib/request-id.ts); the header is set before any handler can fail.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id)
    done()
  })
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(err)
    // A 503 is a known state (a store outage, logged by src/store/outage-log.ts; a drain), not a bug: no stack.
    if (problem.status >= 500 && problem.code !== 'ERR_SERVICE_UNAVAILABLE') request.log.error({ err }, 'request failed')
    else request.log.info({ code: problem.code, status: problem.status }, 'request refused')
    return sendProblem(reply, problem, opts.realm)
  })
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, Problems.notFound(), opts.realm))
}

export default fp(problemsPlugin, { name: 'tessera-problems', fastify: '5.x' })
