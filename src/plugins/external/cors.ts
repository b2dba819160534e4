// CORS for browser clients on the allow-list (CORS_ORIGINS); without one, no cross-origin access at all.
import fastifyCors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface CorsOptions {
  /** Exact origins allowed; empty: no Access-Control-Allow-Origin for anyone. */
  origins: readonly string[]
}

async function cors (app: FastifyInstance, { origins }: CorsOptions): Promise<void> {
  // Without an allow-list @fastify/cors would add nothing to any answer and send preflights to the 404 handler,
  // yet still run a hook on every request (a few % of a whoami's CPU in a profile): the same answers without it.
  if (origins.length === 0) return
  await app.register(fastifyCors, {
    origin: [...origins],
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // Bearer tokens only, never cookies: no credentials mode.
    allowedHeaders: ['Authorization', 'Content-Type', 'DPoP'],
    // What a script must read to handle a refusal: the Bearer or DPoP challenge, a DPoP nonce, the limits' headers, and
    // the request id to report.
    exposedHeaders: ['WWW-Authenticate', 'DPoP-Nonce', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'X-Request-Id'],
    maxAge: 600
  })
}

export default fp(cors, { name: 'tessera-cors', fastify: '5.x' })
