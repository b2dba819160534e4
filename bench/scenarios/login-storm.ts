// Scenario 4: sustained logins at OWASP argon2 parameters while whoami is served — event-loop delay and p99.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { bearerGets, jsonPosts, runLoad, type LoadSample } from '../lib/load'
import { benchEntry, probe, startServer, type RunningServer } from '../lib/processes'
import { fmt, fmtInt, seconds, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { spread, type Spread } from '../lib/stats'
import { checkToken, tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { mintAccessTokens, tesseraKeyDir } from '../lib/tokens'

/** libuv's default thread pool (4), then the number of cores here (2). */
const POOLS = [4, 2]
const USERS = 16
const LOGIN_CONNECTIONS = 16
/** whoami is offered at a fixed rate (open model), so its latency shows queueing, not a saturated server. */
const WHOAMI_RATE = 1000
const WHOAMI_CONNECTIONS = 10
const ELD_TARGET_MS = 20

interface EventLoop { samples: number, meanMs: number, p50Ms: number, p99Ms: number, maxMs: number }
interface Phase { whoami: LoadSample, login: LoadSample | null, eventLoop: EventLoop }
interface ProcessRun { pool: number, round: number, quiet: Phase, storm: Phase }
interface PoolSummary {
  pool: number
  eldP99Quiet: Spread
  eldP99Storm: Spread
  whoamiP99Quiet: Spread
  whoamiP99Storm: Spread
  loginRps: Spread
  loginP99: Spread
}
interface Data { runs: ProcessRun[], pools: PoolSummary[] }

async function register (server: RunningServer, users: Array<{ email: string, password: string }>): Promise<void> {
  await Promise.all(users.map(async (user) => {
    const res = await fetch(`${server.baseUrl}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) })
    // 409: registered by an earlier process of this scenario (same database).
    if (res.status !== 201 && res.status !== 409) throw new Error(`register ${user.email}: HTTP ${res.status} ${await res.text()}`)
  }))
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const params = {
    phaseS: seconds(ctx, 8, 0.3),
    warmupS: seconds(ctx, 2, 0.1),
    users: ctx.smoke ? 2 : USERS,
    loginConnections: ctx.smoke ? 2 : LOGIN_CONNECTIONS,
    whoamiRate: ctx.smoke ? 200 : WHOAMI_RATE,
    whoamiConnections: ctx.smoke ? 2 : WHOAMI_CONNECTIONS,
    pools: ctx.smoke ? POOLS.slice(0, 1) : POOLS,
    argon2: 'Tessera defaults (OWASP: m=19456 KiB, t=2, p=1)'
  }
  const dir = tempDir(ctx, 'storm')
  const key = tesseraKeyDir(path.join(dir, 'keys'))
  const { tokens, subs } = mintAccessTokens(key, ctx.smoke ? 50 : 2000)
  const users = Array.from({ length: params.users }, (_, i) => ({ email: `storm-${i}@bench.example`, password: `bench ${randomBytes(12).toString('base64url')}` }))
  const loginBodies = users.map((u) => JSON.stringify(u))
  const probeFile = path.join(dir, 'eventloop.json')

  const runs: ProcessRun[] = []
  // Processes alternate the pool size (4 2 4 2); inside each, quiet then storm.
  for (let r = 0; r < ctx.rounds; r++) {
    for (const pool of params.pools) {
      const server = await startServer({
        ...tesseraSpec(`tessera pool ${pool}`, dir, { UV_THREADPOOL_SIZE: String(pool), BENCH_PROBE_FILE: probeFile }),
        nodeArgs: ['--import', pathToFileURL(benchEntry('bench/preload/eventloop.ts')).href]
      })
      try {
        await register(server, users)
        await checkToken(server, WHOAMI_PATH, tokens[0], subs[0])
        const whoami = (label: string): Promise<LoadSample> => runLoad({
          label, baseUrl: server.baseUrl, connections: params.whoamiConnections, overallRate: params.whoamiRate, durationS: params.phaseS, requests: bearerGets(WHOAMI_PATH, tokens)
        })
        const logins = (label: string, run: { durationS: number } | { amount: number }): Promise<LoadSample> => runLoad({
          label, baseUrl: server.baseUrl, connections: params.loginConnections, requests: jsonPosts('/v1/auth/login', loginBodies), ...run
        })
        await Promise.all([
          runLoad({ label: 'warm-up whoami', baseUrl: server.baseUrl, connections: params.whoamiConnections, overallRate: params.whoamiRate, durationS: params.warmupS, requests: bearerGets(WHOAMI_PATH, tokens) }),
          logins('warm-up login', { amount: 2 * params.loginConnections })
        ])
        const phase = async (storm: boolean): Promise<Phase> => {
          await probe(server, probeFile) // resets the histogram
          const [w, l] = await Promise.all([whoami(`whoami ${storm ? 'storm' : 'quiet'}`), storm ? logins('login storm', { durationS: params.phaseS }) : Promise.resolve(null)])
          const eventLoop = await probe<EventLoop>(server, probeFile)
          return { whoami: w, login: l, eventLoop }
        }
        const quiet = await phase(false)
        const storm = await phase(true)
        runs.push({ pool, round: r + 1, quiet, storm })
        ctx.log(`  round ${r + 1} pool ${pool}: whoami p99 ${quiet.whoami.latencyMs.p99} → ${storm.whoami.latencyMs.p99} ms, ` +
          `event loop p99 ${fmt(quiet.eventLoop.p99Ms, 1)} → ${fmt(storm.eventLoop.p99Ms, 1)} ms, logins ${fmt(storm.login!.rps, 1)}/s`)
      } finally {
        await server.stop()
      }
    }
  }
  const pools: PoolSummary[] = params.pools.map((pool) => {
    const mine = runs.filter((x) => x.pool === pool)
    return {
      pool,
      eldP99Quiet: spread(mine.map((x) => x.quiet.eventLoop.p99Ms)),
      eldP99Storm: spread(mine.map((x) => x.storm.eventLoop.p99Ms)),
      whoamiP99Quiet: spread(mine.map((x) => x.quiet.whoami.latencyMs.p99)),
      whoamiP99Storm: spread(mine.map((x) => x.storm.whoami.latencyMs.p99)),
      loginRps: spread(mine.map((x) => x.storm.login!.rps)),
      loginP99: spread(mine.map((x) => x.storm.login!.latencyMs.p99))
    }
  })
  const main = pools[0]
  return {
    params: { ...params, rounds: ctx.rounds },
    data: { runs, pools } satisfies Data,
    figures: pools.flatMap((p) => [
      { name: `pool ${p.pool}: event-loop delay p99 under the storm (median)`, value: p.eldP99Storm.median, unit: 'ms' },
      { name: `pool ${p.pool}: logins per second (median)`, value: p.loginRps.median, unit: 'logins/s' },
      { name: `pool ${p.pool}: whoami p99 under the storm (median)`, value: p.whoamiP99Storm.median, unit: 'ms' }
    ]),
    targets: [{
      name: `Login storm: event-loop delay p99 during the storm (UV_THREADPOOL_SIZE=${main.pool})`,
      target: `< ${ELD_TARGET_MS} ms`,
      measured: `${fmt(main.eldP99Storm.median, 1)} ms median, ${fmt(main.eldP99Storm.max, 1)} ms max`,
      met: main.eldP99Storm.median < ELD_TARGET_MS
    }]
  }
}

function markdown (result: ScenarioResult): string {
  const { runs, pools } = result.data as Data
  const params = result.params as { whoamiRate: number }
  const summary = pools.map((p) => `| ${p.pool} | ${fmt(p.eldP99Quiet.median, 1)} | ${fmt(p.eldP99Storm.median, 1)} (max ${fmt(p.eldP99Storm.max, 1)}) | ` +
    `${fmt(p.whoamiP99Quiet.median, 0)} | ${fmt(p.whoamiP99Storm.median, 0)} | ${fmt(p.whoamiP99Storm.median / p.whoamiP99Quiet.median, 1)} | ` +
    `${fmt(p.loginRps.median, 1)} (min ${fmt(p.loginRps.min, 1)}) | ${fmtInt(p.loginP99.median)} | ${p.eldP99Storm.median < ELD_TARGET_MS ? 'met' : `**missed** (${fmt(p.eldP99Storm.median, 1)} ms)`} |`)
  const every = runs.map((x) => `| ${x.round} | ${x.pool} | ${fmt(x.quiet.eventLoop.p99Ms, 1)} | ${fmt(x.storm.eventLoop.p99Ms, 1)} | ${fmt(x.storm.eventLoop.maxMs, 1)} | ` +
    `${x.quiet.whoami.latencyMs.p99} | ${x.storm.whoami.latencyMs.p99} | ${fmtInt(x.quiet.whoami.rps)} / ${fmtInt(x.storm.whoami.rps)} | ${fmt(x.storm.login!.rps, 1)} |`)
  const lines = [
    `Medians over rounds; whoami offered at ${params.whoamiRate} req/s in both phases.`,
    '',
    '| UV_THREADPOOL_SIZE | event-loop p99 ms, quiet | event-loop p99 ms, storm | whoami p99 ms, quiet | whoami p99 ms, storm | storm ÷ quiet | logins/s | login p99 ms | Target (event loop < 20 ms) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...summary,
    '',
    'Every process (in the order run):',
    '',
    '| Round | Pool | loop p99 quiet | loop p99 storm | loop max storm | whoami p99 quiet | whoami p99 storm | whoami req/s quiet / storm | logins/s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...every
  ]
  lines.push('', `**Noise.** Event-loop p99 under the storm over the rounds: ${pools.map((p) => `pool ${p.pool} ${fmt(p.eldP99Storm.min, 1)} to ${fmt(p.eldP99Storm.max, 1)} ms`).join(', ')}; ` +
    `logins/s ${pools.map((p) => `pool ${p.pool} ${fmt(p.loginRps.min, 1)} to ${fmt(p.loginRps.max, 1)}`).join(', ')}. Latency percentiles from autocannon are whole milliseconds.`)
  if (pools.length > 1) {
    const [a, b] = pools
    lines.push('', `Thread pool ${b.pool} against ${a.pool}: logins/s ratio ${fmt(b.loginRps.median / a.loginRps.median)}, ` +
      `event-loop p99 under the storm ${fmt(b.eldP99Storm.median, 1)} ms against ${fmt(a.eldP99Storm.median, 1)} ms, ` +
      `whoami p99 under the storm ${fmt(b.whoamiP99Storm.median, 0)} ms against ${fmt(a.whoamiP99Storm.median, 0)} ms.`)
  }
  return lines.join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const { pools } = result.data as Data
  const values = pools.flatMap((p) => [
    { pool: `pool ${p.pool}`, phase: 'quiet', metric: 'event-loop delay p99', ms: p.eldP99Quiet.median },
    { pool: `pool ${p.pool}`, phase: 'storm', metric: 'event-loop delay p99', ms: p.eldP99Storm.median },
    { pool: `pool ${p.pool}`, phase: 'quiet', metric: 'whoami p99', ms: p.whoamiP99Quiet.median },
    { pool: `pool ${p.pool}`, phase: 'storm', metric: 'whoami p99', ms: p.whoamiP99Storm.median }
  ])
  return {
    title: 'Login storm (argon2id, OWASP parameters): p99 in ms, median of rounds',
    data: { values },
    columns: 2,
    facet: { field: 'metric', type: 'nominal', title: null },
    spec: {
      width: 200,
      height: 200,
      mark: 'bar',
      encoding: {
        x: { field: 'phase', type: 'nominal', title: null, sort: ['quiet', 'storm'] },
        xOffset: { field: 'pool', type: 'nominal' },
        y: { field: 'ms', type: 'quantitative', title: 'ms' },
        color: { field: 'pool', type: 'nominal', title: 'UV_THREADPOOL_SIZE' }
      }
    },
    resolve: { scale: { y: 'independent' } }
  }
}

export const loginStorm: Scenario = {
  id: 'login-storm',
  title: '4. Login storm',
  estimateS: 90,
  method: [
    'Tessera with its default argon2id parameters (OWASP: 19 MiB, t=2, p=1), `RATE_LIMIT=off`, and a bench-only',
    'preload (`--import bench/preload/eventloop.ts`) that keeps a `perf_hooks.monitorEventLoopDelay` histogram',
    '(5 ms resolution) and writes and resets it on SIGURG (not SIGUSR2, which Tessera\'s close-with-grace takes as',
    'a shutdown request): the event-loop delay is measured inside the server without a metrics endpoint. 16 users are registered through the API. Each phase lasts 8 s: whoami is offered',
    'at a fixed 1,000 req/s (autocannon `overallRate`, 10 connections, 2,000 rotating tokens), so its p99 shows',
    'waiting, not saturation. In the storm phase, 16 more connections log in back to back (`POST /v1/auth/login`,',
    'the 16 users in rotation) at the same time. Each process runs quiet then storm; processes alternate',
    '`UV_THREADPOOL_SIZE` 4 (libuv\'s default) and 2 (the cores here): 4, 2, 4, 2. Why the pool size matters:',
    'argon2 runs in libuv\'s thread pool, so up to `UV_THREADPOOL_SIZE` hashes run at once; with more hashing',
    'threads than cores they take CPU time from the event-loop thread, which shows as event-loop delay and whoami',
    'p99, while login throughput cannot rise above what the cores can hash. Target: event-loop delay p99 < 20 ms',
    'during the storm, with the default pool.'
  ].join('\n'),
  run,
  markdown,
  chart
}
