// Peer for scenario 2: plain Fastify with no authentication at all — the ceiling a Fastify whoami could reach.
// GET /whoami ignores the Authorization header the bench sends and answers a fixed body of the same shape.
import Fastify from 'fastify'
import { peerSettings, whoami } from './settings'

const CLAIMS = whoami({ sub: 'user-0', role: 'user', iat: 0, exp: 0, jti: 'bench' })

async function main (): Promise<void> {
  const settings = peerSettings()
  const app = Fastify()
  app.get('/health/live', async () => ({ status: 'ok' }))
  app.get('/whoami', async () => CLAIMS)
  await app.listen({ host: settings.host, port: settings.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`fastify-hello peer: ${String(err)}\n`)
  process.exit(1)
})
