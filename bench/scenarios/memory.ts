// Scenario 3: resident memory after N distinct users — stateless Tessera against express-session's MemoryStore.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type autocannon from 'autocannon'
import { bearerGets, runLoad } from '../lib/load'
import { benchEntry, probe, rssBytes, sleep, startServer, type RunningServer, type ServerSpec } from '../lib/processes'
import { count, fmt, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { spread, type Spread } from '../lib/stats'
import { checkToken, tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { mintAccessTokens, tesseraKeyDir } from '../lib/tokens'

const CHECKPOINTS = [25_000, 50_000, 100_000]
const CONNECTIONS = 100
/** Users served before the "0" point, so both servers have run every code path (JIT) first. */
const WARMUP_USERS = 500
const MB = 1e6
/** Growth is quoted per this many users. */
const PER = 10_000

type Stack = 'tessera' | 'session'
const STACK_LABEL: Record<Stack, string> = { tessera: 'Tessera (stateless JWT)', session: 'Express + express-session (MemoryStore)' }

interface Point { users: number, rssMB: number, heapUsedMB: number }
interface StackRun {
  stack: Stack
  round: number
  points: Point[]
  /** (RSS at the last checkpoint − RSS at 0) per 10,000 users, MB. */
  growthPer10kMB: number
  /** The same from the first checkpoint on: growth once any bounded cache is full. */
  growthPer10kAfterFirstMB: number
}
interface Data { checkpoints: number[], runs: StackRun[], growth: Record<Stack, Spread>, growthAfterFirst: Record<Stack, Spread> }

/** One login (POST /login creates the session, Set-Cookie), then one GET /whoami with that cookie, per user. */
function sessionFlow (subs: readonly string[]): autocannon.Request[] {
  let next = 0
  return [
    {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        req.body = JSON.stringify({ sub: subs[next++ % subs.length] })
        return req
      },
      onResponse: (_status, _body, context, headers) => {
        const raw = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'set-cookie')?.[1]
        const first = Array.isArray(raw) ? raw[0] : raw
        ;(context as { cookie?: string }).cookie = typeof first === 'string' ? first.split(';')[0] : ''
      }
    },
    {
      method: 'GET',
      path: '/whoami',
      setupRequest: (req, context) => {
        req.headers = { ...req.headers, cookie: (context as { cookie?: string }).cookie ?? '' }
        return req
      }
    }
  ]
}

async function measure (server: RunningServer, probeFile: string, users: number, quietMs: number): Promise<Point> {
  // A quiet period (no load, responses drained), a full GC inside the server, then RSS from /proc.
  await sleep(quietMs)
  const snapshot = await probe<{ heapUsed: number, gc: boolean }>(server, probeFile)
  if (!snapshot.gc) throw new Error(`${server.name}: global.gc is missing (--expose-gc)`)
  await sleep(quietMs / 4)
  return { users, rssMB: rssBytes(server.pid) / MB, heapUsedMB: snapshot.heapUsed / MB }
}

function growth (points: Point[], from: number): number {
  const a = points[from]
  const b = points[points.length - 1]
  return ((b.rssMB - a.rssMB) / (b.users - a.users)) * PER
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const connections = ctx.smoke ? 10 : CONNECTIONS
  const checkpoints = ctx.smoke ? [50, 100, 200] : CHECKPOINTS.map((c) => count(ctx, c, c, connections))
  const warmupUsers = ctx.smoke ? 20 : WARMUP_USERS
  const quietMs = ctx.smoke ? 100 : 1000
  const users = checkpoints[checkpoints.length - 1]
  const dir = tempDir(ctx, 'memory')
  const key = tesseraKeyDir(path.join(dir, 'keys'))
  ctx.log(`  minting ${users + warmupUsers} tokens`)
  const warm = mintAccessTokens(key, warmupUsers)
  const { tokens, subs } = mintAccessTokens(key, users)
  const probeFile = path.join(dir, 'probe.json')
  const preload = { nodeArgs: ['--expose-gc', '--import', pathToFileURL(benchEntry('bench/preload/gc.ts')).href] }

  const specs: Record<Stack, ServerSpec> = {
    tessera: { ...tesseraSpec('tessera', dir, { BENCH_PROBE_FILE: probeFile }), ...preload },
    session: {
      name: 'express-session',
      script: 'bench/peers/express-session.ts',
      cwd: dir,
      env: { BENCH_PROBE_FILE: probeFile, BENCH_SESSION_SECRET: 'bench-only-session-secret-0123456789abcdef' },
      ...preload
    }
  }
  // Per user: Tessera gets one whoami with that user's token; the baseline one login and one whoami.
  const load = (stack: Stack, from: number, to: number, list: { tokens: string[], subs: string[] }): { requests: autocannon.Request[], amount: number } =>
    stack === 'tessera'
      ? { requests: bearerGets(WHOAMI_PATH, list.tokens.slice(from, to)), amount: to - from }
      : { requests: sessionFlow(list.subs.slice(from, to)), amount: 2 * (to - from) }

  const runs: StackRun[] = []
  for (let r = 0; r < ctx.rounds; r++) {
    for (const stack of ['tessera', 'session'] as const) {
      const server = await startServer(specs[stack])
      try {
        if (stack === 'tessera') await checkToken(server, WHOAMI_PATH, warm.tokens[0], warm.subs[0])
        await runLoad({ label: `${stack} warm-up`, baseUrl: server.baseUrl, connections, ...load(stack, 0, warmupUsers, warm) })
        const points = [await measure(server, probeFile, 0, quietMs)]
        let done = 0
        for (const checkpoint of checkpoints) {
          await runLoad({ label: `${stack} ${done}→${checkpoint} users`, baseUrl: server.baseUrl, connections, ...load(stack, done, checkpoint, { tokens, subs }) })
          done = checkpoint
          points.push(await measure(server, probeFile, checkpoint, quietMs))
        }
        const run: StackRun = { stack, round: r + 1, points, growthPer10kMB: growth(points, 0), growthPer10kAfterFirstMB: growth(points, 1) }
        runs.push(run)
        ctx.log(`  round ${r + 1} ${stack}: RSS ${points.map((p) => fmt(p.rssMB, 1)).join(' → ')} MB; ${fmt(run.growthPer10kMB)} MB per 10k users`)
      } finally {
        await server.stop()
      }
    }
  }
  const of = (stack: Stack, pick: (x: StackRun) => number): Spread => spread(runs.filter((x) => x.stack === stack).map(pick))
  const data: Data = {
    checkpoints,
    runs,
    growth: { tessera: of('tessera', (x) => x.growthPer10kMB), session: of('session', (x) => x.growthPer10kMB) },
    growthAfterFirst: { tessera: of('tessera', (x) => x.growthPer10kAfterFirstMB), session: of('session', (x) => x.growthPer10kAfterFirstMB) }
  }
  const maxRss = (stack: Stack): number => Math.max(...runs.filter((x) => x.stack === stack).map((x) => x.points[x.points.length - 1].rssMB))
  return {
    params: { checkpoints, warmupUsers, connections, quietMs, rounds: ctx.rounds },
    data,
    figures: [
      { name: 'Tessera RSS growth per 10k users (median)', value: data.growth.tessera.median, unit: 'MB' },
      { name: 'express-session RSS growth per 10k users (median)', value: data.growth.session.median, unit: 'MB' },
      { name: `Tessera RSS after ${users} users (max)`, value: maxRss('tessera'), unit: 'MB' },
      { name: `express-session RSS after ${users} users (max)`, value: maxRss('session'), unit: 'MB' }
    ],
    targets: [{
      name: 'Memory: Tessera RSS growth per 10,000 users (0 → last checkpoint)',
      target: '< 1 MB',
      measured: `${fmt(data.growth.tessera.median)} MB median, ${fmt(data.growth.tessera.max)} MB max (express-session: ${fmt(data.growth.session.median)} MB)`,
      met: data.growth.tessera.median < 1
    }]
  }
}

function markdown (result: ScenarioResult): string {
  const data = result.data as Data
  const cols = [0, ...data.checkpoints]
  const rows = data.runs.map((x) => `| ${STACK_LABEL[x.stack]} | ${x.round} | ${x.points.map((p) => fmt(p.rssMB, 1)).join(' | ')} | ${fmt(x.growthPer10kMB)} | ${fmt(x.growthPer10kAfterFirstMB)} |`)
  const ratio = data.growth.tessera.median > 0 ? fmt(data.growth.session.median / data.growth.tessera.median, 1) : 'n/a (Tessera did not grow)'
  const t = data.growth.tessera.median
  return [
    `RSS in MB (10^6 bytes) after N users, then growth per 10,000 users from 0 and from ${data.checkpoints[0].toLocaleString('en-US')}:`,
    '',
    `| Stack | Round | ${cols.map((c) => `${c.toLocaleString('en-US')} users`).join(' | ')} | MB / 10k users | MB / 10k after ${data.checkpoints[0].toLocaleString('en-US')} |`,
    `| --- | ---: | ${cols.map(() => '---:').join(' | ')} | ---: | ---: |`,
    ...rows,
    '',
    `Growth per 10,000 users, median of rounds: Tessera ${fmt(t)} MB (min ${fmt(data.growth.tessera.min)}), ` +
      `express-session ${fmt(data.growth.session.median)} MB (min ${fmt(data.growth.session.min)}); ratio express-session ÷ Tessera: ${ratio}.`,
    `Target < 1 MB per 10,000 users for Tessera: ${t < 1 ? 'met' : `**missed** (${fmt(t)} MB)`}.`,
    '',
    `**Noise.** Growth per 10,000 users over the rounds: Tessera ${fmt(data.growth.tessera.min)} to ${fmt(data.growth.tessera.max)} MB, ` +
      `express-session ${fmt(data.growth.session.min)} to ${fmt(data.growth.session.max)} MB. RSS also moves when V8 or the allocator keep or return pages, ` +
      'about a megabyte either way even after a GC, so a small negative growth means "flat".'
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const data = result.data as Data
  const values = data.runs.flatMap((x) => x.points.map((p) => ({ stack: STACK_LABEL[x.stack], run: `${STACK_LABEL[x.stack]} #${x.round}`, users: p.users, rss: p.rssMB })))
  return {
    title: 'Resident memory after N distinct users (after GC and a quiet period)',
    width: 480,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'users', type: 'quantitative', title: 'distinct users, one authenticated request each' },
      y: { field: 'rss', type: 'quantitative', title: 'RSS (MB)', scale: { zero: true } },
      color: { field: 'stack', type: 'nominal', title: null, legend: { orient: 'top' } },
      detail: { field: 'run', type: 'nominal' }
    }
  }
}

export const memory: Scenario = {
  id: 'memory',
  title: '3. Memory: stateless against stateful',
  estimateS: 150,
  method: [
    'Linux only (`/proc`). Each server runs with `--expose-gc` and a bench-only preload (`bench/preload/gc.ts`) that, on SIGURG, runs a',
    'full garbage collection and reports its heap; the bench then reads `VmRSS` from `/proc/<pid>/status` itself.',
    'Before each reading: 1 s without load, the GC, 0.25 s more. Tessera (default configuration, no per-request',
    'logging) gets one `GET /v1/auth/whoami` per user with that user\'s token (100,000 tokens for 100,000 distinct',
    '`sub`, minted as in scenario 1). The stateful baseline (`bench/peers/express-session.ts`, Express 5 +',
    'express-session with its default MemoryStore) gets, per user, `POST /login` (creates the session, sets the',
    'cookie) and one `GET /whoami` with that cookie. Readings after a 500-user warm-up ("0"), then after 25,000,',
    '50,000 and 100,000 users (autocannon, 100 connections, each token or user used once). Rounds: Tessera,',
    'baseline, Tessera, baseline, each in a fresh process. The figure is RSS growth per 10,000 users from 0 to',
    '100,000; the growth after the first checkpoint is shown too, since Tessera\'s verification cache is bounded',
    '(10,000 entries) and fills during the first 10,000 users.'
  ].join('\n'),
  run,
  markdown,
  chart
}
