// Scenario 8: what sessions cost the token endpoints: chained refreshes and whoami, before and after sessions, same run.
import type autocannon from 'autocannon'
import { baselineServer } from '../lib/baseline'
import { bearerGets, runLoad, WARMUP_S, type LoadSample } from '../lib/load'
import { startServer, type RunningServer } from '../lib/processes'
import { fmt, fmtInt, pct, seconds, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { disagreement, spread, type Spread } from '../lib/stats'
import { tesseraSpec, WHOAMI_PATH } from '../lib/tessera'

/** main just before sessions were merged (issue 14): refresh verified the token and read the user, no session row. */
export const BEFORE_SESSIONS = '2586d45^1'
const CONNECTIONS = 20
const PASSWORD = 'refresh bench passphrase 42'

type SideName = 'before' | 'after'
interface Side { name: SideName, label: string, commit: string | null, server: RunningServer, emails: string[], access: string[] }
interface Round { refresh: Record<SideName, LoadSample>, whoami: Record<SideName, LoadSample> }
interface Figures { refreshRps: Spread, refreshP99Ms: Spread, whoamiRps: Spread }
interface Data { baseline: { ref: string, commit: string | null }, rounds: Round[], sides: Record<SideName, Figures>, refreshRatio: Spread, whoamiRatio: Spread }

async function post (base: string, urlPath: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(base + urlPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) })
  const json = await res.json() as Record<string, unknown>
  if (!res.ok) throw new Error(`${urlPath}: HTTP ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** One user per connection, registered through the API: each gets a refresh chain of its own. */
async function register (server: RunningServer, n: number): Promise<{ emails: string[], access: string[] }> {
  const emails: string[] = []
  const access: string[] = []
  for (let i = 0; i < n; i++) {
    const email = `refresh-${i}@bench.example`
    const json = await post(server.baseUrl, '/v1/auth/register', { email, password: PASSWORD })
    emails.push(email)
    access.push(String(json.accessToken))
  }
  return { emails, access }
}

/**
 * A new session per user, so every load phase starts on refresh tokens nobody has presented: when a phase ends,
 * autocannon drops the answers still in flight, and a chain continued from a token the server already rotated would
 * be a replay (which ends the session, as it should).
 */
async function freshChains (server: RunningServer, emails: readonly string[]): Promise<string[]> {
  const chains: string[] = []
  for (const email of emails) chains.push(String((await post(server.baseUrl, '/v1/auth/login', { email, password: PASSWORD })).refreshToken))
  return chains
}

/**
 * POST /v1/auth/refresh as a client does it: a chain is never presented twice at once, and always with the refresh
 * token of its previous answer. autocannon clears a connection's context after each request, so chains are lent
 * from a pool instead: taken when a request is built, given back with its answer (one in flight per connection,
 * as many chains as connections).
 */
function refreshChains (chains: string[]): autocannon.Request[] {
  const free = chains.map((_, i) => i)
  type Context = { slot?: number }
  return [{
    method: 'POST',
    path: '/v1/auth/refresh',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req, context) => {
      const slot = free.pop()
      if (slot === undefined) throw new Error('more requests in flight than refresh chains')
      ;(context as Context).slot = slot
      req.body = JSON.stringify({ refreshToken: chains[slot] })
      return req
    },
    onResponse: (status, body, context) => {
      const { slot } = context as Context
      if (slot === undefined) return
      if (status === 200) chains[slot] = String((JSON.parse(body) as { refreshToken: unknown }).refreshToken)
      free.push(slot)
    }
  }]
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const connections = ctx.smoke ? 4 : CONNECTIONS
  const phaseS = seconds(ctx, 6, 0.1)
  // The smoke run only checks that the scenario works: it does not build the baseline (npm ci, a minute or more).
  const baseline = ctx.smoke ? null : baselineServer(BEFORE_SESSIONS, ctx.log)
  const sides: Side[] = []
  try {
    for (const name of ['before', 'after'] as const) {
      const dir = tempDir(ctx, `refresh-${name}`)
      const spec = tesseraSpec(`tessera ${name} sessions`, dir)
      if (name === 'before' && baseline !== null) spec.script = baseline.script
      const server = await startServer(spec)
      sides.push({
        name,
        label: name === 'before' ? (baseline === null ? 'this build (smoke run: no baseline)' : `before sessions (${baseline.commit.slice(0, 7)})`) : 'this build',
        commit: name === 'before' ? baseline?.commit ?? null : null,
        server,
        ...await register(server, connections)
      })
    }
    const rounds: Round[] = []
    for (let r = 0; r < ctx.rounds; r++) {
      const round = { refresh: {}, whoami: {} } as Round
      for (const side of sides) {
        const base = { baseUrl: side.server.baseUrl, connections }
        if (r === 0) {
          await runLoad({ ...base, label: `${side.name} warm-up`, requests: refreshChains(await freshChains(side.server, side.emails)), amount: connections * 20 })
          await runLoad({ ...base, label: `${side.name} whoami warm-up`, requests: bearerGets(WHOAMI_PATH, side.access), durationS: ctx.smoke ? 0.1 : WARMUP_S })
        }
        // whoami before the refreshes: measured right after them, the build with sessions (a row written per refresh)
        // answered whoami at 0.6 to 0.7 of the other in one run, while the same two builds alone were level.
        round.whoami[side.name] = await runLoad({ ...base, label: `${side.name} whoami #${r + 1}`, requests: bearerGets(WHOAMI_PATH, side.access), durationS: phaseS })
        const chains = await freshChains(side.server, side.emails)
        round.refresh[side.name] = await runLoad({ ...base, label: `${side.name} refresh #${r + 1}`, requests: refreshChains(chains), durationS: phaseS })
        ctx.log(`  ${side.name} round ${r + 1}: refresh ${fmtInt(round.refresh[side.name].rps)} req/s (p99 ${fmt(round.refresh[side.name].latencyMs.p99, 0)} ms), whoami ${fmtInt(round.whoami[side.name].rps)} req/s`)
      }
      rounds.push(round)
    }
    const figures = (name: SideName): Figures => ({
      refreshRps: spread(rounds.map((r) => r.refresh[name].rps)),
      refreshP99Ms: spread(rounds.map((r) => r.refresh[name].latencyMs.p99)),
      whoamiRps: spread(rounds.map((r) => r.whoami[name].rps))
    })
    const data: Data = {
      baseline: { ref: BEFORE_SESSIONS, commit: baseline?.commit ?? null },
      rounds,
      sides: { before: figures('before'), after: figures('after') },
      refreshRatio: spread(rounds.map((r) => r.refresh.after.rps / r.refresh.before.rps)),
      whoamiRatio: spread(rounds.map((r) => r.whoami.after.rps / r.whoami.before.rps))
    }
    return {
      params: { connections, phaseS, rounds: ctx.rounds, baseline: BEFORE_SESSIONS },
      data,
      figures: [
        { name: 'refresh req/s after ÷ before sessions (median)', value: data.refreshRatio.median, unit: 'ratio' },
        { name: 'refresh p99 after sessions', value: data.sides.after.refreshP99Ms.median, unit: 'ms' },
        { name: 'refresh p99 before sessions', value: data.sides.before.refreshP99Ms.median, unit: 'ms' },
        { name: 'whoami req/s after ÷ before sessions (median)', value: data.whoamiRatio.median, unit: 'ratio' }
      ],
      targets: []
    }
  } finally {
    for (const side of sides) await side.server.stop()
  }
}

function markdown (result: ScenarioResult): string {
  const data = result.data as Data
  const row = (name: SideName, label: string): string => {
    const f = data.sides[name]
    return `| ${label} | ${fmtInt(f.refreshRps.median)} | ${fmt(f.refreshP99Ms.median, 0)} | ${fmtInt(f.whoamiRps.median)} |`
  }
  const before = data.baseline.commit === null ? 'this build (smoke run: no baseline)' : `before sessions (\`${data.baseline.commit.slice(0, 7)}\`)`
  return [
    '| Build | refresh req/s (median) | refresh p99 ms | whoami req/s (median) |',
    '| --- | ---: | ---: | ---: |',
    row('before', before),
    row('after', 'this build'),
    '',
    `**After ÷ before:** refresh ${fmt(data.refreshRatio.median)} (median; ${fmt(data.refreshRatio.min)} min), whoami ${fmt(data.whoamiRatio.median)} (median; ${fmt(data.whoamiRatio.min)} min).`,
    '',
    `**Noise.** Between rounds the refresh ratio moved by ${pct(disagreement(data.refreshRatio))} and the whoami ratio by ${pct(disagreement(data.whoamiRatio))} of their medians.`
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const data = result.data as Data
  const values = data.rounds.flatMap((r, i) => (['before', 'after'] as const).flatMap((side) => [
    { side, route: 'refresh', round: i + 1, rps: r.refresh[side].rps },
    { side, route: 'whoami', round: i + 1, rps: r.whoami[side].rps }
  ]))
  return {
    title: 'Before and after sessions: req/s (bar: median of rounds)',
    width: 360,
    height: 200,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'route', type: 'nominal', title: null },
      xOffset: { field: 'side', type: 'nominal', sort: ['before', 'after'] },
      y: { aggregate: 'median', field: 'rps', type: 'quantitative', title: 'req/s' },
      color: { field: 'side', type: 'nominal', sort: ['before', 'after'], title: null, legend: { orient: 'top' } }
    }
  }
}

export const refresh: Scenario = {
  id: 'refresh',
  title: '8. Refresh with sessions',
  estimateS: 170,
  method: [
    `Two Tessera processes side by side, on SQLite in temporary directories (\`RATE_LIMIT=off\`, \`LOG_LEVEL=warn\`): this`,
    `build, and the commit just before sessions were merged (\`${BEFORE_SESSIONS}\`), checked out with \`git archive\`,`,
    'installed from its own lock file and built by its own build script (bench/lib/baseline.ts). Each gets 20 users',
    'registered through its API, and a new session per user (a login) before each refresh phase. autocannon (20',
    'connections) refreshes as clients do: a chain is never presented twice at once and always with the refresh',
    'token of its previous answer, so every request is a rotation (after sessions: a compare-and-set on the session',
    'row; before: none) and none is a replay. `GET /v1/auth/whoami` with the users\' access tokens is measured before',
    'each refresh phase. Per round, 6 s of each, before then after; two rounds after a warm-up of 20 refreshes per',
    `connection and ${WARMUP_S} s of whoami. Figures: refresh req/s and p99 of each build, and after ÷ before for refresh and`,
    'whoami (whoami must not have changed: sessions are not read on the access path).'
  ].join('\n'),
  run,
  markdown,
  chart
}
