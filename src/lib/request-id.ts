// Request ids: the one a client or proxy sent when it is safe to log and echo, otherwise a new one.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export const REQUEST_ID_HEADER = 'x-request-id'

/**
 * What an incoming X-Request-Id must look like to be kept: 1 to 128 characters of letters, digits and `-_.:`.
 * That covers UUIDs, ULIDs, W3C trace ids and the ids of common proxies; anything else (spaces, quotes, control
 * characters, a megabyte) could forge log lines or bloat them, and is replaced by a fresh UUID.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

export const newRequestId = (): string => randomUUID()

/** Fastify's genReqId: the incoming id when valid (one header only), else a new one. */
export function requestIdOf (req: Pick<IncomingMessage, 'headers'>): string {
  const incoming = req.headers[REQUEST_ID_HEADER]
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : newRequestId()
}
