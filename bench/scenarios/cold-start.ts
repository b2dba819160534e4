// Scenario 6: process start to the first 200 from /health/live, and resident memory once started and one whoami
// answered — Tessera against plain Fastify + @fastify/jwt.
import { cpus } from 'node:os'
import path from 'node:path'
import { rssBytes, startServer, type ServerSpec } from '../lib/processes'
import { count, fmt, fmtInt, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { spread, type Spread } from '../lib/stats'
import { checkToken, tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { AUDIENCE, ISSUER, mintAccessTokens, newKey, tesseraKeyDir } from '../lib/tokens'

const STARTS = 10
const MIB = 1024 * 1024
/** Tessera's start to first 200 ÷ the peer's (medians) must stay at or under this. */
const MAX_START_RATIO = 1.5
/** Tessera's RSS after start and one whoami ÷ the peer's (medians) must stay at or under this. */
const MAX_RSS_RATIO = 1.3

interface Data {
  /** The very first start: empty key directory and database (key generation and migrations included). */
  firstStartMs: number
  /** A start with the key directory and database in place and an empty compile cache: the first start after a build. */
  noCacheMs: number
  noCacheRssMiB: number
  tesseraMs: number[]
  fastifyMs: number[]
  tessera: Spread
  fastify: Spread
  /** median(Tessera) ÷ median(Fastify). */
  ratio: number
  /** RSS (MiB) right after the first whoami of each start, in the same order as the start times. */
  tesseraRssMiB: number[]
  fastifyRssMiB: number[]
  tesseraRss: Spread
  fastifyRss: Spread
  rssRatio: number
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const starts = count(ctx, STARTS, 1)
  // The first start gets an empty directory of its own; the timed starts reuse a directory whose key the bench
  // wrote (as a first start would), so it can mint the token for the whoami after each start.
  const firstDir = tempDir(ctx, 'cold-first')
  const dir = tempDir(ctx, 'cold')
  const tessera = tesseraSpec('tessera', dir)
  const tesseraKey = tesseraKeyDir(path.join(dir, 'keys'))
  const peerKey = newKey('EdDSA')
  const fastify: ServerSpec = {
    name: 'fastify-jwt',
    script: 'bench/peers/fastify-jwt.ts',
    cwd: dir,
    env: { BENCH_ALG: 'EdDSA', BENCH_VERIFY_KEY: peerKey.verifyKey, BENCH_ISSUER: ISSUER, BENCH_AUDIENCE: AUDIENCE, BENCH_VERIFY_CACHE: '10000' }
  }
  const tesseraToken = mintAccessTokens(tesseraKey, 1)
  const peerToken = mintAccessTokens(peerKey, 1)
  const startOnce = async (spec: ServerSpec, urlPath: string, minted: { tokens: string[], subs: string[] }): Promise<{ ms: number, rssMiB: number }> => {
    const server = await startServer(spec)
    try {
      await checkToken(server, urlPath, minted.tokens[0], minted.subs[0])
      return { ms: server.readyMs, rssMiB: rssBytes(server.pid) / MIB }
    } finally {
      await server.stop()
    }
  }
  // First start on an empty directory: Tessera generates its key and creates the database.
  const first = await startServer(tesseraSpec('tessera', firstDir))
  await first.stop()
  const firstStartMs = first.readyMs
  ctx.log(`  first start (key generation, new database): ${fmtInt(firstStartMs)} ms`)
  // One untimed start creates the database of the timed starts, so each of them finds it in place.
  await startOnce(tessera, WHOAMI_PATH, tesseraToken)
  // The first start after a build: V8 compiles the bundle from source. NODE_COMPILE_CACHE points it at an empty
  // directory of its own; emptying dist/.compile-cache instead would race with any other Tessera process writing it.
  const noCache = await startOnce(tesseraSpec('tessera', dir, { NODE_COMPILE_CACHE: tempDir(ctx, 'compile-cache') }), WHOAMI_PATH, tesseraToken)
  ctx.log(`  start with an empty compile cache: ${fmtInt(noCache.ms)} ms, ${fmt(noCache.rssMiB, 1)} MiB`)
  const tesseraMs: number[] = []
  const fastifyMs: number[] = []
  const tesseraRssMiB: number[] = []
  const fastifyRssMiB: number[] = []
  for (let i = 0; i < starts; i++) {
    const t = await startOnce(tessera, WHOAMI_PATH, tesseraToken)
    tesseraMs.push(t.ms)
    tesseraRssMiB.push(t.rssMiB)
    const f = await startOnce(fastify, '/whoami', peerToken)
    fastifyMs.push(f.ms)
    fastifyRssMiB.push(f.rssMiB)
  }
  const data: Data = {
    firstStartMs,
    noCacheMs: noCache.ms,
    noCacheRssMiB: noCache.rssMiB,
    tesseraMs,
    fastifyMs,
    tessera: spread(tesseraMs),
    fastify: spread(fastifyMs),
    ratio: spread(tesseraMs).median / spread(fastifyMs).median,
    tesseraRssMiB,
    fastifyRssMiB,
    tesseraRss: spread(tesseraRssMiB),
    fastifyRss: spread(fastifyRssMiB),
    rssRatio: spread(tesseraRssMiB).median / spread(fastifyRssMiB).median
  }
  ctx.log(`  Tessera median ${fmtInt(data.tessera.median)} ms ${fmt(data.tesseraRss.median, 1)} MiB, Fastify median ${fmtInt(data.fastify.median)} ms ${fmt(data.fastifyRss.median, 1)} MiB`)
  return {
    params: { starts, keyDir: path.basename(dir) + '/keys (written by the bench)', poll: 'GET /health/live every 5 ms, new connection each', rss: 'VmRSS right after the first whoami answered' },
    data,
    figures: [
      { name: 'Tessera start to first 200 (median)', value: data.tessera.median, unit: 'ms' },
      { name: 'Fastify + @fastify/jwt start to first 200 (median)', value: data.fastify.median, unit: 'ms' },
      { name: 'Tessera first start with key generation', value: firstStartMs, unit: 'ms' },
      { name: 'Tessera start with an empty compile cache', value: noCache.ms, unit: 'ms' },
      { name: 'Tessera RSS after start and one whoami (median)', value: data.tesseraRss.median, unit: 'MiB' },
      { name: 'Fastify + @fastify/jwt RSS after start and one whoami (median)', value: data.fastifyRss.median, unit: 'MiB' }
    ],
    targets: [
      {
        name: 'Cold start to first 200: Tessera ÷ Fastify + @fastify/jwt (medians)',
        target: `≤ ${fmt(MAX_START_RATIO)}`,
        measured: `${fmt(data.ratio)} (${fmtInt(data.tessera.median)} ms ÷ ${fmtInt(data.fastify.median)} ms)`,
        met: data.ratio <= MAX_START_RATIO
      },
      {
        name: 'RSS after start and one whoami: Tessera ÷ Fastify + @fastify/jwt (medians)',
        target: `≤ ${fmt(MAX_RSS_RATIO)}`,
        measured: `${fmt(data.rssRatio)} (${fmt(data.tesseraRss.median, 1)} MiB ÷ ${fmt(data.fastifyRss.median, 1)} MiB)`,
        met: data.rssRatio <= MAX_RSS_RATIO
      }
    ]
  }
}

function markdown (result: ScenarioResult): string {
  const d = result.data as Data
  return [
    '| Server | start median ms | min ms | max ms | RSS median MiB | min MiB | max MiB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| Tessera (key directory and database exist) | ${fmtInt(d.tessera.median)} | ${fmtInt(d.tessera.min)} | ${fmtInt(d.tessera.max)} | ${fmt(d.tesseraRss.median, 1)} | ${fmt(d.tesseraRss.min, 1)} | ${fmt(d.tesseraRss.max, 1)} |`,
    `| Fastify + @fastify/jwt (bench/peers/fastify-jwt.ts) | ${fmtInt(d.fastify.median)} | ${fmtInt(d.fastify.min)} | ${fmtInt(d.fastify.max)} | ${fmt(d.fastifyRss.median, 1)} | ${fmt(d.fastifyRss.min, 1)} | ${fmt(d.fastifyRss.max, 1)} |`,
    `| Tessera, first start (generates the key, creates the database), once | ${fmtInt(d.firstStartMs)} | — | — | — | — | — |`,
    `| Tessera, first start after a build (empty compile cache), once | ${fmtInt(d.noCacheMs)} | — | — | ${fmt(d.noCacheRssMiB, 1)} | — | — |`,
    '',
    `Tessera ÷ Fastify, medians: start ${fmt(d.ratio)} (target ≤ ${fmt(MAX_START_RATIO)}: ${d.ratio <= MAX_START_RATIO ? 'met' : '**missed**'}), ` +
      `RSS ${fmt(d.rssRatio)} (target ≤ ${fmt(MAX_RSS_RATIO)}: ${d.rssRatio <= MAX_RSS_RATIO ? 'met' : '**missed**'}). Both run compiled JavaScript with no loader: Tessera's`,
    '`dist/server.js`, as `npm start` does (the bundle `dist/tessera.js`, compiled from V8\'s compile cache once a start has filled it),',
    'and the peer, its own code bundled by esbuild into `bench/dist/`, its packages read from `node_modules`, no compile cache.',
    `Without the cache (the first start after a build) Tessera's start was ${fmtInt(d.noCacheMs)} ms: ${fmt(d.noCacheMs / d.fastify.median)}× the peer's median.`,
    '',
    `**Noise.** Tessera's starts ranged from ${fmtInt(d.tessera.min)} to ${fmtInt(d.tessera.max)} ms, Fastify's from ${fmtInt(d.fastify.min)} to ${fmtInt(d.fastify.max)} ms; ` +
      'polling adds up to 5 ms. RSS is read once per start, with no GC first, so it includes garbage not yet collected. ' +
      `Load average (1 min) ${fmt(result.loadAvg.before)} before, ${fmt(result.loadAvg.after)} after, on ${cpus().length} cores${result.loadAvg.before > cpus().length / 2 ? ': start-up times stretch with it, the peer\'s as much as Tessera\'s.' : '.'}`
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const d = result.data as Data
  const values = [
    ...d.tesseraMs.map((ms, i) => ({ server: 'Tessera', start: i + 1, ms })),
    ...d.fastifyMs.map((ms, i) => ({ server: 'Fastify + @fastify/jwt', start: i + 1, ms })),
    { server: 'Tessera, first start (key generation)', start: 0, ms: d.firstStartMs }
  ]
  return {
    title: 'Process start to first 200 from /health/live (ms); tick: median',
    width: 480,
    height: { step: 40 },
    data: { values },
    layer: [
      { mark: { type: 'point', opacity: 0.7 }, encoding: { y: { field: 'server', type: 'nominal', title: null, sort: null }, x: { field: 'ms', type: 'quantitative', title: 'ms', scale: { zero: true } } } },
      { mark: { type: 'tick', color: '#d62728', thickness: 2 }, encoding: { y: { field: 'server', type: 'nominal', sort: null }, x: { aggregate: 'median', field: 'ms', type: 'quantitative' } } }
    ]
  }
}

export const coldStart: Scenario = {
  id: 'cold-start',
  title: '6. Cold start',
  estimateS: 40,
  method: [
    'Time from `spawn()` of `node dist/server.js` (the compiled build `npm start` runs) to the first 200 from `GET /health/live`, polled',
    'every 5 ms with a new connection (so the resolution is about 5 ms). The first start, on an empty directory,',
    'generates the signing key and creates the SQLite database; it is reported once. So is a start with an empty compile',
    'cache (`NODE_COMPILE_CACHE` set to a new directory: the first start after a build). Then ten starts with the key',
    'directory and database in place, alternating with ten starts of the plain Fastify + @fastify/jwt peer',
    '(`bench/peers/fastify-jwt.ts`, also compiled, no tsx, EdDSA with a 10,000-entry cache) as the reference:',
    'Tessera, Fastify, Tessera, Fastify, … After each start, one whoami with a valid token (Tessera',
    '`GET /v1/auth/whoami`, the peer `GET /whoami`), then `VmRSS` from `/proc/<pid>/status`: the memory a started',
    'server holds before any load. Figures: median and min of each, and the ratios of the medians. Targets:',
    `Tessera's start at most ${MAX_START_RATIO}× the peer's, its RSS at most ${MAX_RSS_RATIO}×.`
  ].join('\n'),
  run,
  markdown,
  chart
}
