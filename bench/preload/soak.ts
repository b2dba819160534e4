// Bench-only preload for the soak: on PROBE_SIGNAL (SIGURG), a full GC, then the heap and the size each cache has
// reached. The caches are found by wrapping one method of each class in Tessera's dist/ (and pg's Pool) before the
// server loads them, so src/ carries nothing for the bench. Needs --expose-gc; dist/ is the entry script's directory.
import path from 'node:path'
import v8 from 'node:v8'
import { fullGc, writeOnSignal } from './signal-file'

interface Bounded { size: number, max: number | null }

/** Wrap `method` of `cls.prototype` so each instance it is called on is remembered (a handful per process). */
function track (cls: { prototype: Record<string, unknown> } | undefined, method: string, seen: Set<object>): void {
  const original = cls?.prototype[method]
  if (typeof original !== 'function') return
  cls!.prototype[method] = function (this: object, ...args: unknown[]): unknown {
    seen.add(this)
    return (original as (...a: unknown[]) => unknown).apply(this, args)
  }
}

const dist = path.dirname(process.argv[1] ?? '.')
const verifiedCaches = new Set<object>()
const revocationCaches = new Set<object>()
const pools = new Set<object>()
/* eslint-disable @typescript-eslint/no-require-imports -- the modules the server is about to load, patched first */
const load = (id: string): Record<string, { prototype: Record<string, unknown> } | undefined> => {
  try {
    return require(id) as Record<string, { prototype: Record<string, unknown> } | undefined>
  } catch {
    return {}
  }
}
track(load(path.join(dist, 'tokens', 'verified-tokens.js')).VerifiedTokens, 'set', verifiedCaches)
track(load(path.join(dist, 'revocation', 'revocation-cache.js')).RevocationCache, 'isRevoked', revocationCaches)
track(load('pg').Pool, 'query', pools)
track(load('pg').Pool, 'connect', pools)
/* eslint-enable @typescript-eslint/no-require-imports */

function verifiedTokens (): Bounded[] {
  return [...verifiedCaches].map((c) => {
    const cache = (c as { cache: { size: number, max: number } | null }).cache
    return { size: cache?.size ?? 0, max: cache?.max ?? 0 }
  })
}

function revocation (): Array<{ users: number, sessions: number, inflight: number, max: number }> {
  return [...revocationCaches].map((c) => {
    const cache = c as { stats: () => { users: number, sessions: number }, inflight: Map<string, unknown>, users: { max: number } }
    const { users, sessions } = cache.stats()
    return { users, sessions, inflight: cache.inflight.size, max: cache.users.max }
  })
}

function pgPools (): Array<{ total: number, idle: number, waiting: number, max: number }> {
  return [...pools].map((p) => {
    const pool = p as { totalCount: number, idleCount: number, waitingCount: number, options: { max: number } }
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max }
  })
}

let probes = 0
writeOnSignal(() => {
  const gc = fullGc()
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
  // Which part of the heap grows: old_space (objects kept) or code_space (compiled code, JIT still at work).
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]))
  probes++
  const snapshotAt = (process.env.BENCH_HEAP_SNAPSHOT_AT ?? '').split(',').filter((n) => n !== '').map(Number)
  // Diagnosis, by hand: BENCH_HEAP_SNAPSHOT_AT=7,20 BENCH_HEAP_SNAPSHOT_DIR=/tmp/x writes heap snapshots at those probes.
  const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR
  if (snapshotDir !== undefined && snapshotAt.includes(probes)) v8.writeHeapSnapshot(path.join(snapshotDir, `heap-${process.pid}-${probes}.heapsnapshot`))
  return { gc, rss, heapTotal, heapUsed, external, arrayBuffers, spaces, caches: { verifiedTokens: verifiedTokens(), revocation: revocation(), pgPools: pgPools() } }
})
