// Child process of the DPoP scenario: heap taken by Tessera's DPoP replay cache per entry, measured alone (--expose-gc).
//   node --expose-gc --import tsx bench/lib/dpop-replay-memory.ts <entries>   → one JSON line on stdout
import { randomBytes, randomUUID } from 'node:crypto'
import { MemoryReplayCache } from '../../src/tokens/dpop-replay'

function main (): void {
  const entries = Number(process.argv[2] ?? '100000')
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  // 2,000 clients' key thumbprints, each proof a fresh jti, as DpopChecker hands them to the cache.
  const thumbprints = Array.from({ length: 2000 }, () => randomBytes(32).toString('base64url'))
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  const cache = new MemoryReplayCache(entries)
  const now = Math.floor(Date.now() / 1000)
  for (let i = 0; i < entries; i++) cache.firstUse(`${thumbprints[i % thumbprints.length]}.${randomUUID()}`, now + 90, now)
  gc()
  gc()
  const bytes = process.memoryUsage().heapUsed - before
  process.stdout.write(JSON.stringify({ entries, size: cache.size, heapBytes: bytes, bytesPerEntry: bytes / cache.size }) + '\n')
}

main()
