// Peer for scenarios 2 and 6: plain Fastify + @fastify/jwt (fast-jwt underneath), EdDSA with a verification cache; GET /whoami.
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import { peerSettings, required, whoami, type AccessClaims } from './settings'

async function main (): Promise<void> {
  const settings = peerSettings()
  const app = Fastify()
  await app.register(fastifyJwt, {
    secret: { public: required('BENCH_VERIFY_KEY') },
    verify: {
      algorithms: [settings.alg],
      allowedIss: settings.issuer,
      allowedAud: settings.audience,
      cache: settings.verifyCache > 0 ? settings.verifyCache : false
    }
  })
  app.get('/health/live', async () => ({ status: 'ok' }))
  app.get('/whoami', { onRequest: async (request) => { await request.jwtVerify() } }, async (request) => whoami(request.user as AccessClaims))
  await app.listen({ host: settings.host, port: settings.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`fastify-jwt peer: ${String(err)}\n`)
  process.exit(1)
})
