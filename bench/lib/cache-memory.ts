// Child process of the revocation scenario: heap taken by Tessera's RevocationCache per entry, measured alone (--expose-gc).
//   node --expose-gc --import tsx bench/lib/cache-memory.ts <pairs>   → one JSON line on stdout
import { newId, newSessionId } from '../../src/lib/ids'
import { RevocationCache } from '../../src/revocation/revocation-cache'

async function main (): Promise<void> {
  const pairs = Number(process.argv[2] ?? '50000')
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  const cache = new RevocationCache({
    load: async () => ({ tokenVersion: 0, sessionEnded: false }),
    clock: { now: () => Date.now() },
    maxEntries: pairs,
    ttlMs: 60_000
  })
  for (let i = 0; i < pairs; i++) {
    // Keys as the hook has them: fresh strings parsed out of each token's payload, kept only by the cache.
    const claims = JSON.parse(JSON.stringify({ sub: newId(), sid: newSessionId() })) as { sub: string, sid: string }
    await cache.isRevoked(claims.sub, claims.sid, 0)
  }
  gc()
  gc()
  const bytes = process.memoryUsage().heapUsed - before
  const { users, sessions } = cache.stats()
  process.stdout.write(JSON.stringify({ pairs, users, sessions, heapBytes: bytes, bytesPerEntry: bytes / (users + sessions), bytesPerPair: bytes / pairs }) + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
