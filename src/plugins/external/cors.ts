// CORS for browser clients on the allow-list (CORS_ORIGINS); without one, no cross-origin access at all.
import fastifyCors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface CorsOptions {
  /** Exact origins allowed; empty: no Access-Control-Allow-Origin for anyone. */
  origins: readonly string[]
}

async function cors (app: FastifyInstance, { origins }: CorsOptions): Promise<void> {
  await app.register(fastifyCors, {
    origin: origins.length > 0 ? [...origins] : false,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // Bearer tokens only, never cookies: no credentials mode.
    allowedHeaders: ['Authorization', 'Content-Type'],
    // What a script must read to handle a refusal: the Bearer challenge, the limits' headers, and the request id to report.
    exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'X-Request-Id'],
    maxAge: 600
  })
}

export default fp(cors, { name: 'tessera-cors', fastify: '5.x' })
