// Scenario 6: process start to the first 200 from /health/live — Tessera against a plain Fastify server.
import path from 'node:path'
import { startServer, type ServerSpec } from '../lib/processes'
import { count, fmt, fmtInt, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { spread, type Spread } from '../lib/stats'
import { tesseraSpec } from '../lib/tessera'
import { newKey } from '../lib/tokens'

const STARTS = 10

interface Data {
  /** The very first start: empty key directory and database (key generation and migrations included). */
  firstStartMs: number
  tesseraMs: number[]
  fastifyMs: number[]
  tessera: Spread
  fastify: Spread
  /** median(Tessera) ÷ median(Fastify). */
  ratio: number
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const starts = count(ctx, STARTS, 1)
  const dir = tempDir(ctx, 'cold')
  const tessera = tesseraSpec('tessera', dir)
  const key = newKey('EdDSA')
  const fastify: ServerSpec = {
    name: 'fastify-jwt',
    script: 'bench/peers/fastify-jwt.ts',
    cwd: dir,
    env: { BENCH_ALG: 'EdDSA', BENCH_VERIFY_KEY: key.verifyKey, BENCH_VERIFY_CACHE: '10000' }
  }
  const time = async (spec: ServerSpec): Promise<number> => {
    const server = await startServer(spec)
    await server.stop()
    return server.readyMs
  }
  // First start on an empty directory: Tessera generates its key and creates the database.
  const firstStartMs = await time(tessera)
  ctx.log(`  first start (key generation, new database): ${fmtInt(firstStartMs)} ms`)
  const tesseraMs: number[] = []
  const fastifyMs: number[] = []
  for (let i = 0; i < starts; i++) {
    tesseraMs.push(await time(tessera))
    fastifyMs.push(await time(fastify))
  }
  const data: Data = {
    firstStartMs,
    tesseraMs,
    fastifyMs,
    tessera: spread(tesseraMs),
    fastify: spread(fastifyMs),
    ratio: spread(tesseraMs).median / spread(fastifyMs).median
  }
  ctx.log(`  Tessera median ${fmtInt(data.tessera.median)} ms, Fastify median ${fmtInt(data.fastify.median)} ms`)
  return {
    params: { starts, keyDir: path.basename(dir) + '/keys (made by the first start)', poll: 'GET /health/live every 5 ms, new connection each' },
    data,
    figures: [
      { name: 'Tessera start to first 200 (median)', value: data.tessera.median, unit: 'ms' },
      { name: 'Fastify + @fastify/jwt start to first 200 (median)', value: data.fastify.median, unit: 'ms' },
      { name: 'Tessera first start with key generation', value: firstStartMs, unit: 'ms' }
    ],
    targets: []
  }
}

function markdown (result: ScenarioResult): string {
  const d = result.data as Data
  return [
    '| Server | median ms | min ms | max ms |',
    '| --- | ---: | ---: | ---: |',
    `| Tessera (key directory and database exist) | ${fmtInt(d.tessera.median)} | ${fmtInt(d.tessera.min)} | ${fmtInt(d.tessera.max)} |`,
    `| Fastify + @fastify/jwt (bench/peers/fastify-jwt.ts) | ${fmtInt(d.fastify.median)} | ${fmtInt(d.fastify.min)} | ${fmtInt(d.fastify.max)} |`,
    `| Tessera, first start (generates the key, creates the database), once | ${fmtInt(d.firstStartMs)} | — | — |`,
    '',
    `Tessera ÷ Fastify, medians: ${fmt(d.ratio)}. No target; both run compiled JavaScript with no loader: Tessera's`,
    '`dist/server.js`, as `npm start` does, and the peer bundled by esbuild into `bench/dist/`.',
    '',
    `**Noise.** Tessera's starts ranged from ${fmtInt(d.tessera.min)} to ${fmtInt(d.tessera.max)} ms, Fastify's from ${fmtInt(d.fastify.min)} to ${fmtInt(d.fastify.max)} ms; ` +
      'polling adds up to 5 ms.'
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
  estimateS: 35,
  method: [
    'Time from `spawn()` of `node dist/server.js` (the compiled build `npm start` runs) to the first 200 from `GET /health/live`, polled',
    'every 5 ms with a new connection (so the resolution is about 5 ms). The first start, on an empty directory,',
    'generates the signing key and creates the SQLite database; it is reported once. Then ten starts with the key',
    'directory and database in place, alternating with ten starts of the plain Fastify peer',
    '(`bench/peers/fastify-jwt.ts`, also compiled, no tsx) as the reference: Tessera, Fastify, Tessera, Fastify, …',
    'Figures: median and min of each, and the ratio of the medians.'
  ].join('\n'),
  run,
  markdown,
  chart
}
