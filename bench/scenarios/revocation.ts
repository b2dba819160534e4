// Scenario 7: how long a revoked access token keeps working on another instance (REVOCATION_MODE=hybrid), with and without Redis.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { getStatus, REPO_ROOT, startServer, type RunningServer } from '../lib/processes'
import { count, fmt, fmtInt, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { benchSchema, REDIS_URL } from '../lib/services'
import { spread, type Spread } from '../lib/stats'
import { tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { tesseraKeyDir } from '../lib/tokens'

const SAMPLES = 5
const POLL_MS = 10
/** REVOCATION_CACHE_TTL: Tessera's default in the full run; 1 s in the smoke run, which only checks that the scenario works. */
const TTL_S = 5
const SMOKE_TTL_S = 1
/** Pairs (one user entry, one session entry each) for the memory figure: REVOCATION_CACHE_SIZE's default. */
const MEMORY_PAIRS = 50_000
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href
const PASSWORD = 'revocation bench passphrase 42'

type SetupName = 'redis' | 'ttl'
const LABEL: Record<SetupName, string> = { redis: 'With Redis (pub/sub)', ttl: 'Without Redis (cache TTL only)' }

interface Sample {
  /** From logout-all's 204 on A to the first 401 from B's whoami, ms. */
  delayMs: number
  /** B's whoami requests until the 401, that one included. */
  polls: number
  /** How long logout-all took on A, ms. */
  logoutMs: number
}
interface Setup { name: SetupName, label: string, ttlS: number, samples: Sample[], delay: Spread }
interface CacheMemory { pairs: number, users: number, sessions: number, heapBytes: number, bytesPerEntry: number, bytesPerPair: number }
interface Data { setups: Setup[], cacheMemory: CacheMemory }

async function post (base: string, urlPath: string, body?: unknown, token?: string): Promise<{ status: number, json: Record<string, unknown> }> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(base + urlPath, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
}

/** One sample: a new user's session, served (and so cached) by B, logged out everywhere on A; then B is polled. */
async function sample (a: RunningServer, b: RunningServer, email: string, limitMs: number): Promise<Sample> {
  const reg = await post(a.baseUrl, '/v1/auth/register', { email, password: PASSWORD })
  if (reg.status !== 201) throw new Error(`register on A: HTTP ${reg.status} ${JSON.stringify(reg.json)}`)
  const token = String(reg.json.accessToken)
  const whoami = async (): Promise<number> => (await getStatus(b.baseUrl + WHOAMI_PATH, { authorization: `Bearer ${token}` })).status
  // B has just read the user's state: the worst case, a full TTL to run.
  if (await whoami() !== 200) throw new Error('B refused a fresh token')
  const t0 = performance.now()
  const logout = await post(a.baseUrl, '/v1/auth/logout-all', undefined, token)
  const t1 = performance.now()
  if (logout.status !== 204) throw new Error(`logout-all on A: HTTP ${logout.status}`)
  for (let polls = 1; ; polls++) {
    const status = await whoami()
    if (status === 401) return { delayMs: performance.now() - t1, polls, logoutMs: t1 - t0 }
    if (status !== 200) throw new Error(`B answered ${status} while polling (expected 200, then 401)`)
    if (performance.now() - t1 > limitMs) throw new Error(`B still accepted the token ${fmtInt(limitMs)} ms after logout-all on A`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

async function measureCacheMemory (pairs: number): Promise<CacheMemory> {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', TSX_LOADER, path.join(REPO_ROOT, 'bench/lib/cache-memory.ts'), String(pairs)],
    { cwd: REPO_ROOT, env, timeout: 120_000 })
  return JSON.parse(stdout) as CacheMemory
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const ttlS = ctx.smoke ? SMOKE_TTL_S : TTL_S
  const samples = count(ctx, SAMPLES, 1)
  const { databaseUrl, drop } = await benchSchema('bench')
  const dir = tempDir(ctx, 'revocation')
  tesseraKeyDir(path.join(dir, 'keys'))
  const setups: Setup[] = []
  try {
    for (const name of ['redis', 'ttl'] as const) {
      const env = {
        DATABASE_URL: databaseUrl.toString(),
        REVOCATION_MODE: 'hybrid',
        REVOCATION_CACHE_TTL: `${ttlS}s`,
        // Logins are not what is measured here.
        ARGON2_MEMORY_KIB: '8192',
        ARGON2_ITERATIONS: '1',
        ...(name === 'redis' ? { REDIS_URL } : {})
      }
      const a = await startServer(tesseraSpec(`tessera A (${name})`, dir, env))
      let b: RunningServer | undefined
      try {
        b = await startServer(tesseraSpec(`tessera B (${name})`, dir, env))
        const measured: Sample[] = []
        for (let i = 0; i < samples; i++) {
          const s = await sample(a, b, `revocation-${name}-${i}@bench.test`, ttlS * 1000 + 5000)
          measured.push(s)
          ctx.log(`  ${name} #${i + 1}: refused on B ${fmt(s.delayMs, 1)} ms after logout-all answered on A (${s.polls} polls)`)
        }
        setups.push({ name, label: LABEL[name], ttlS, samples: measured, delay: spread(measured.map((s) => s.delayMs)) })
      } finally {
        await b?.stop()
        await a.stop()
      }
    }
  } finally {
    await drop()
  }
  const cacheMemory = await measureCacheMemory(ctx.smoke ? 5000 : MEMORY_PAIRS)
  ctx.log(`  RevocationCache: ${fmt(cacheMemory.bytesPerEntry, 0)} bytes per entry (${fmtInt(cacheMemory.pairs)} users + sessions)`)
  const [redis, ttl] = setups
  return {
    params: { samples, ttlS, pollMs: POLL_MS, database: `PostgreSQL at ${databaseUrl.host}, own schema`, redis: new URL(REDIS_URL).host, memoryPairs: cacheMemory.pairs },
    data: { setups, cacheMemory } satisfies Data,
    figures: [
      { name: 'with Redis: revocation delay on B (median)', value: redis.delay.median, unit: 'ms' },
      { name: 'without Redis: revocation delay on B (median)', value: ttl.delay.median, unit: 'ms' },
      { name: 'RevocationCache heap per entry', value: cacheMemory.bytesPerEntry, unit: 'bytes' }
    ],
    targets: [
      {
        name: 'Revocation delay across instances, REVOCATION_MODE=hybrid with Redis',
        target: '< 1,000 ms',
        measured: `${fmt(redis.delay.median, 1)} ms median, ${fmt(redis.delay.max, 1)} ms max`,
        met: redis.delay.max < 1000
      },
      {
        name: 'Revocation delay across instances, REVOCATION_MODE=hybrid without Redis',
        target: `≤ REVOCATION_CACHE_TTL (${ttlS} s) + 100 ms`,
        measured: `${fmtInt(ttl.delay.median)} ms median, ${fmtInt(ttl.delay.max)} ms max`,
        met: ttl.delay.max <= ttlS * 1000 + 100
      }
    ]
  }
}

function markdown (result: ScenarioResult): string {
  const { setups, cacheMemory } = result.data as Data
  const med = (values: number[]): number => spread(values).median
  const rows = setups.map((s) =>
    `| ${s.label} | ${s.ttlS} s | ${s.samples.length} | ${fmt(s.delay.median, 1)} | ${fmt(s.delay.min, 1)} | ${fmt(s.delay.max, 1)} | ${fmtInt(med(s.samples.map((x) => x.polls)))} | ${fmt(med(s.samples.map((x) => x.logoutMs)), 1)} |`)
  const mb = (bytes: number): string => fmt(bytes / 1e6, 1)
  return [
    '| Setup | REVOCATION_CACHE_TTL | Samples | Delay ms, median | min | max | B polls, median | logout-all on A, ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Memory: ${fmtInt(cacheMemory.pairs)} users with one session each took ${mb(cacheMemory.heapBytes)} MB of heap in the revocation cache, ` +
      `${fmt(cacheMemory.bytesPerEntry, 0)} bytes per entry (${fmt(cacheMemory.bytesPerPair, 0)} per user and session). The cache holds at most ` +
      `REVOCATION_CACHE_SIZE entries of each kind: about ${mb(2 * 50_000 * cacheMemory.bytesPerEntry)} MB at the default 50,000.`,
    '',
    '**Noise.** Without Redis the delay is the TTL minus the age of B\'s entry, which is near zero here by construction (B has',
    'just served the token), so it varies by the poll interval (10 ms) and the request time. With Redis it is one message',
    'and one poll. The memory figure is the heap after a full GC, in a process of its own.'
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const { setups } = result.data as Data
  const values = setups.flatMap((s) => s.samples.map((x, i) => ({ setup: `${s.label}, TTL ${s.ttlS} s`, sample: i + 1, ms: Math.max(x.delayMs, 0.1) })))
  return {
    title: 'Logout-all on A → first 401 on B (ms, log scale); tick: median',
    width: 480,
    height: { step: 40 },
    data: { values },
    layer: [
      { mark: { type: 'point', opacity: 0.7 }, encoding: { y: { field: 'setup', type: 'nominal', title: null, sort: null }, x: { field: 'ms', type: 'quantitative', title: 'ms', scale: { type: 'log' } } } },
      { mark: { type: 'tick', color: '#d62728', thickness: 2 }, encoding: { y: { field: 'setup', type: 'nominal', sort: null }, x: { aggregate: 'median', field: 'ms', type: 'quantitative' } } }
    ]
  }
}

export const revocation: Scenario = {
  id: 'revocation',
  title: '7. Revocation delay (hybrid mode)',
  estimateS: 45,
  method: [
    'Two Tessera processes, A and B, with `REVOCATION_MODE=hybrid` on one PostgreSQL schema (created for the run,',
    'dropped after it) and one key directory: first with `REDIS_URL` (revocations published on a channel that',
    'every instance subscribes to), then, with two new processes, without it (only the cache TTL,',
    '`REVOCATION_CACHE_TTL`, Tessera\'s default of 5 s). Per sample: a new user registers on A; B answers',
    '`GET /v1/auth/whoami` with the access token (so B has just cached the user\'s state: the worst case without',
    'Redis); `POST /v1/auth/logout-all` on A; then B\'s whoami is polled every 10 ms (a new connection each) until',
    'it answers 401. The figure is the time from A\'s 204 to B\'s 401; five samples per setup, median. The cache\'s',
    'memory is measured apart: a process with `--expose-gc` fills a `RevocationCache` with 50,000 users and as',
    'many sessions (keys as the hook gets them, parsed from JSON) and compares the heap after a full GC.'
  ].join('\n'),
  run,
  markdown,
  chart
}
