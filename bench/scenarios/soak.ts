// Scenario 11 (opt-in: `npm run bench -- --only soak`): ten minutes of mixed load on two instances sharing PostgreSQL and
// Redis; is memory bounded once warm? Heap and RSS slopes after warm-up, and the size each cache reaches.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { benchEntry, probe, sleep, startServer, type RunningServer } from '../lib/processes'
import { fmt, fmtInt, seconds, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { benchSchema, REDIS_URL } from '../lib/services'
import { slope } from '../lib/stats'
import { tesseraSpec } from '../lib/tessera'
import { tesseraKeyDir } from '../lib/tokens'

const PASSWORD = 'soak bench passphrase 42'
const DURATION_S = 600
/** Samples before this fraction of the run are warm-up: JIT, pools and caches filling. */
const WARMUP_FRACTION = 0.25
const SAMPLE_EVERY_S = 15
/** Concurrent clients, each sending to A and B in turn. */
const CLIENTS = 8
/** Accounts a client keeps tokens for; older ones are forgotten by the client, not by the server. */
const ACCOUNTS_PER_CLIENT = 100
/**
 * JWT_VERIFY_CACHE and REVOCATION_CACHE_SIZE for the run: small enough that both caches are full before the warm-up
 * ends (about 15 new tokens a second), so a slope after it is growth no bound stops, not a bounded cache still filling.
 */
const CACHE_BOUND = 500
const MB = 2 ** 20
const PER_10_MIN = 600

/** What a client does next, by weight: mostly reads, a write in four, a password hash in eight. */
const MIX = [['whoami', 55], ['refresh', 15], ['patch', 18], ['login', 6], ['register', 6]] as const
type Action = typeof MIX[number][0]

/** The two instances differ in one setting: glibc's malloc arenas (the suspect for RSS growth outside the heap). */
const INSTANCES = [
  { name: 'A', label: 'A (glibc default arenas)', env: {} },
  { name: 'B', label: 'B (MALLOC_ARENA_MAX=2)', env: { MALLOC_ARENA_MAX: '2' } }
] as const
type InstanceName = typeof INSTANCES[number]['name']

interface Caches {
  verifiedTokens: Array<{ size: number, max: number }>
  revocation: Array<{ users: number, sessions: number, inflight: number, max: number }>
  pgPools: Array<{ total: number, idle: number, waiting: number, max: number }>
}
interface Snapshot { heapUsed: number, heapTotal: number, external: number, arrayBuffers: number, gc: boolean, spaces: Record<string, number>, caches: Caches }
interface Sample {
  t: number
  rssMB: number
  rssAnonMB: number
  heapUsedMB: number
  heapTotalMB: number
  externalMB: number
  /** Bytes used in each V8 heap space (old_space, code_space…). */
  spaces: Record<string, number>
  caches: Caches
}
interface Slopes { rss: number, rssAnon: number, heapUsed: number, heapTotal: number, external: number, oldSpace: number, codeSpace: number }
interface InstanceRun { name: InstanceName, label: string, samples: Sample[], slopesPer10Min: Slopes, peak: Caches }
interface Data { durationS: number, warmupS: number, requests: Record<Action, number>, failures: Record<string, number>, instances: InstanceRun[] }

/** VmRSS and RssAnon (malloc'd and JS heap memory, without mapped files), MB. */
function residentMB (pid: number): { rss: number, anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024 / MB
  return { rss: field('VmRSS'), anon: field('RssAnon') }
}

interface Account { email: string, access: string, refresh: string }
interface Reply { status: number, body: Record<string, unknown> }

function send (agent: http.Agent, server: RunningServer, method: string, urlPath: string, body?: unknown, token?: string): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const headers: Record<string, string | number> = {}
  if (payload !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(payload) }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: urlPath, method, agent, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        let parsed: Record<string, unknown> = {}
        try { parsed = text === '' ? {} : JSON.parse(text) as Record<string, unknown> } catch { /* counted by status */ }
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, body: { error: err.code ?? err.message } }))
    req.end(payload)
  })
}

function pick (random: () => number): Action {
  const total = MIX.reduce((s, [, w]) => s + w, 0)
  let r = random() * total
  for (const [action, weight] of MIX) {
    if ((r -= weight) < 0) return action
  }
  return 'whoami'
}

/**
 * Lets the clients be held while the servers are sampled: a reading taken with hashes in flight would count their
 * 19 MiB buffers (four at once), which is load, not retention.
 */
class Gate {
  private held: Promise<void> | null = null
  private release = (): void => {}
  private busy = 0
  private idle = (): void => {}
  /** Resolves once the gate is open, the caller counted as in flight (leave() when done). */
  async pass (): Promise<void> {
    for (;;) {
      while (this.held !== null) await this.held
      this.busy++
      if (this.held === null) return
      this.leave()
    }
  }

  leave (): void { if (--this.busy === 0) this.idle() }
  /** Hold new requests and wait for those in flight. */
  async close (): Promise<void> {
    this.held = new Promise((resolve) => { this.release = resolve })
    if (this.busy > 0) await new Promise<void>((resolve) => { this.idle = resolve })
  }
  open (): void { this.held = null; this.release() }
}

/** One client: until `stopAt`, the next action from MIX on A, then B, then A… with its own accounts. */
async function client (id: number, servers: RunningServer[], agents: http.Agent[], stopAt: number, run: string, gate: Gate,
  requests: Record<Action, number>, failures: Record<string, number>): Promise<void> {
  const accounts: Account[] = []
  let n = 0
  let turn = id % servers.length
  const fail = (action: Action, reply: Reply): void => {
    const key = `${action} ${reply.status}${typeof reply.body.code === 'string' ? ' ' + reply.body.code : ''}`
    failures[key] = (failures[key] ?? 0) + 1
  }
  const tokens = (account: Account, body: Record<string, unknown>): void => {
    account.access = body.accessToken as string
    account.refresh = body.refreshToken as string
  }
  for (;;) {
    await gate.pass()
    if (performance.now() >= stopAt) { gate.leave(); return }
    try {
      await step()
    } finally {
      gate.leave()
    }
  }
  async function step (): Promise<void> {
    const action: Action = accounts.length === 0 ? 'register' : pick(Math.random)
    const at = turn
    turn = (turn + 1) % servers.length
    const [server, agent] = [servers[at], agents[at]]
    const account = accounts[Math.floor(Math.random() * accounts.length)]
    requests[action]++
    if (action === 'register') {
      const email = `soak-${run}-${id}-${n++}@bench.test`
      const reply = await send(agent, server, 'POST', '/v1/auth/register', { email, password: PASSWORD })
      if (reply.status !== 201) { fail(action, reply); return }
      const fresh = { email, access: '', refresh: '' }
      tokens(fresh, reply.body)
      accounts.push(fresh)
      if (accounts.length > ACCOUNTS_PER_CLIENT) accounts.shift()
    } else if (action === 'login') {
      const reply = await send(agent, server, 'POST', '/v1/auth/login', { email: account.email, password: PASSWORD })
      if (reply.status === 200) tokens(account, reply.body)
      else fail(action, reply)
    } else if (action === 'refresh') {
      const reply = await send(agent, server, 'POST', '/v1/auth/refresh', { refreshToken: account.refresh })
      if (reply.status === 200) tokens(account, reply.body)
      else fail(action, reply)
    } else if (action === 'whoami') {
      const reply = await send(agent, server, 'GET', '/v1/auth/whoami', undefined, account.access)
      if (reply.status !== 200) fail(action, reply)
    } else {
      const reply = await send(agent, server, 'PATCH', '/v1/me', { name: `soak ${n++}` }, account.access)
      if (reply.status !== 200) fail(action, reply)
    }
  }
}

function slopesPer10Min (samples: Sample[], warmupS: number): Slopes {
  const after = samples.filter((s) => s.t >= warmupS)
  const of = (pickY: (s: Sample) => number): number => slope(after.map((s) => ({ x: s.t, y: pickY(s) }))) * PER_10_MIN
  return {
    rss: of((s) => s.rssMB),
    rssAnon: of((s) => s.rssAnonMB),
    heapUsed: of((s) => s.heapUsedMB),
    heapTotal: of((s) => s.heapTotalMB),
    external: of((s) => s.externalMB),
    // Objects kept, against compiled code and its metadata (the JIT at work, which levels off).
    oldSpace: of((s) => (s.spaces.old_space ?? Number.NaN) / MB),
    codeSpace: of((s) => (s.spaces.code_space ?? Number.NaN) / MB)
  }
}

/** The largest size each cache reached over the run. */
function peak (samples: Sample[]): Caches {
  const last = samples[samples.length - 1].caches
  const most = <T extends object>(list: (c: Caches) => T[], i: number, key: keyof T): number =>
    Math.max(...samples.map((s) => Number(list(s.caches)[i]?.[key] ?? 0)))
  return {
    verifiedTokens: last.verifiedTokens.map((c, i) => ({ size: most((c) => c.verifiedTokens, i, 'size'), max: c.max })),
    revocation: last.revocation.map((c, i) => ({
      users: most((c) => c.revocation, i, 'users'), sessions: most((c) => c.revocation, i, 'sessions'), inflight: most((c) => c.revocation, i, 'inflight'), max: c.max
    })),
    pgPools: last.pgPools.map((c, i) => ({ total: most((c) => c.pgPools, i, 'total'), idle: most((c) => c.pgPools, i, 'idle'), waiting: most((c) => c.pgPools, i, 'waiting'), max: c.max }))
  }
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const durationS = seconds(ctx, DURATION_S, 3)
  const sampleEveryS = ctx.smoke ? 1 : Math.max(2, Math.min(SAMPLE_EVERY_S, durationS / 20))
  const warmupS = durationS * WARMUP_FRACTION
  const clients = ctx.smoke ? 2 : CLIENTS
  const { databaseUrl, drop } = await benchSchema('bench_soak')
  const dir = tempDir(ctx, 'soak')
  tesseraKeyDir(path.join(dir, 'keys'))
  const nodeArgs = ['--expose-gc', '--import', pathToFileURL(benchEntry('bench/preload/soak.ts')).href]
  const servers: RunningServer[] = []
  const agents = INSTANCES.map(() => new http.Agent({ keepAlive: true }))
  try {
    // Both at once: starting is most of a smoke run's time.
    await Promise.all(INSTANCES.map(async (instance) => {
      // Production argon2 parameters: their buffers, allocated in libuv's threads, are a suspect.
      const env = {
        DATABASE_URL: databaseUrl.toString(),
        REVOCATION_MODE: 'hybrid',
        REDIS_URL,
        JWT_VERIFY_CACHE: String(CACHE_BOUND),
        REVOCATION_CACHE_SIZE: String(CACHE_BOUND),
        BENCH_PROBE_FILE: path.join(dir, `probe-${instance.name}.json`),
        ...instance.env
      }
      servers.push(await startServer(tesseraSpec(`tessera ${instance.name}`, dir, env, nodeArgs)))
    }))
    servers.sort((a, b) => a.name.localeCompare(b.name))
    const requests = Object.fromEntries(MIX.map(([a]) => [a, 0])) as Record<Action, number>
    const failures: Record<string, number> = {}
    const samples: Sample[][] = INSTANCES.map(() => [])
    const t0 = performance.now()
    const stopAt = t0 + durationS * 1000
    const run = randomBytes(3).toString('hex')
    const gate = new Gate()
    const load = Promise.all(Array.from({ length: clients }, (_, id) => client(id, servers, agents, stopAt, run, gate, requests, failures)))
    const sample = async (): Promise<void> => {
      await gate.close()
      try {
        await sampleServers()
      } finally {
        gate.open()
      }
    }
    const sampleServers = async (): Promise<void> => {
      for (const [i, server] of servers.entries()) {
        const snap = await probe<Snapshot>(server, path.join(dir, `probe-${INSTANCES[i].name}.json`))
        if (!snap.gc) throw new Error(`${server.name}: global.gc is missing (--expose-gc)`)
        const { rss, anon } = residentMB(server.pid)
        samples[i].push({
          t: (performance.now() - t0) / 1000, rssMB: rss, rssAnonMB: anon, heapUsedMB: snap.heapUsed / MB, heapTotalMB: snap.heapTotal / MB,
          externalMB: snap.external / MB, spaces: snap.spaces, caches: snap.caches
        })
      }
      const [a, b] = samples.map((s) => s[s.length - 1])
      const done = Object.values(requests).reduce((s, n) => s + n, 0)
      ctx.log(`  ${fmt(a.t, 0)} s, ${fmtInt(done)} requests: RSS A ${fmt(a.rssMB, 1)} B ${fmt(b.rssMB, 1)} MB; heap used A ${fmt(a.heapUsedMB, 1)} B ${fmt(b.heapUsedMB, 1)} MB`)
    }
    await sample()
    while (performance.now() + sampleEveryS * 1000 < stopAt) {
      await sleep(sampleEveryS * 1000)
      await sample()
    }
    await load
    await sample()
    const total = Object.values(requests).reduce((s, n) => s + n, 0)
    const failed = Object.values(failures).reduce((s, n) => s + n, 0)
    if (failed > total / 100) throw new Error(`${failed} of ${total} requests failed: ${JSON.stringify(failures)}`)
    const instances: InstanceRun[] = INSTANCES.map((instance, i) => ({
      name: instance.name, label: instance.label, samples: samples[i], slopesPer10Min: slopesPer10Min(samples[i], warmupS), peak: peak(samples[i])
    }))
    const data: Data = { durationS, warmupS, requests, failures, instances }
    const [a, b] = instances
    return {
      params: { durationS, warmupS, sampleEveryS, clients, mix: Object.fromEntries(MIX), database: `PostgreSQL at ${databaseUrl.host}, own schema`, redis: new URL(REDIS_URL).host },
      data,
      figures: [
        { name: 'requests', value: total, unit: '' },
        { name: 'A heap used slope after warm-up', value: a.slopesPer10Min.heapUsed, unit: 'MB / 10 min' },
        { name: 'B heap used slope after warm-up', value: b.slopesPer10Min.heapUsed, unit: 'MB / 10 min' },
        { name: 'A RSS slope after warm-up', value: a.slopesPer10Min.rss, unit: 'MB / 10 min' },
        { name: 'B RSS slope after warm-up (MALLOC_ARENA_MAX=2)', value: b.slopesPer10Min.rss, unit: 'MB / 10 min' }
      ],
      targets: [{
        name: 'Soak: JavaScript heap after warm-up, both instances (heapUsed after a full GC)',
        target: 'flat: < 1 MB per 10 min',
        measured: `A ${fmt(a.slopesPer10Min.heapUsed)}, B ${fmt(b.slopesPer10Min.heapUsed)} MB per 10 min (RSS A ${fmt(a.slopesPer10Min.rss)}, B ${fmt(b.slopesPer10Min.rss)})`,
        met: Math.max(a.slopesPer10Min.heapUsed, b.slopesPer10Min.heapUsed) < 1
      }]
    }
  } finally {
    for (const server of servers) await server.stop()
    for (const agent of agents) agent.destroy()
    await drop()
  }
}

const cacheLine = (c: Caches): string => [
  ...c.verifiedTokens.map((v) => `verified tokens ${fmtInt(v.size)} of ${fmtInt(v.max)}`),
  ...c.revocation.map((r) => `revocation users ${fmtInt(r.users)}, sessions ${fmtInt(r.sessions)} of ${fmtInt(r.max)} each (reads in flight ${r.inflight})`),
  ...c.pgPools.map((p) => `pg pool ${p.total} of ${p.max} connections (waiting ${p.waiting})`)
].join('; ')

function markdown (result: ScenarioResult): string {
  const data = result.data as Data
  const rows = data.instances.map((x) => {
    const first = x.samples.find((s) => s.t >= data.warmupS) ?? x.samples[0]
    const last = x.samples[x.samples.length - 1]
    const s = x.slopesPer10Min
    return `| ${x.label} | ${fmt(first.heapUsedMB, 1)} → ${fmt(last.heapUsedMB, 1)} | ${fmt(s.heapUsed)} | ${fmt(s.oldSpace)} | ${fmt(s.codeSpace)} | ${fmt(s.external)} | ` +
      `${fmt(first.rssMB, 1)} → ${fmt(last.rssMB, 1)} | ${fmt(s.rss)} | ${fmt(s.rssAnon)} |`
  })
  const failures = Object.entries(data.failures)
  return [
    `${fmtInt(Object.values(data.requests).reduce((s, n) => s + n, 0))} requests in ${fmt(data.durationS, 0)} s (${MIX.map(([a]) => `${a} ${fmtInt(data.requests[a])}`).join(', ')}); ` +
      `${failures.length === 0 ? 'none failed' : 'failed: ' + failures.map(([k, n]) => `${k} × ${n}`).join(', ')}.`,
    '',
    `Slopes are least-squares fits over the samples after the ${fmt(data.warmupS, 0)} s warm-up, in MB (2^20 bytes) per 10 minutes; every sample follows a full GC.`,
    '',
    '| Instance | Heap used after warm-up → end (MB) | Heap used slope | Old space slope | Code space slope | External slope | RSS after warm-up → end (MB) | RSS slope | RssAnon slope |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows,
    '',
    'Largest size each cache reached:',
    '',
    ...data.instances.map((x) => `- ${x.label}: ${cacheLine(x.peak)}.`),
    '',
    'The rate limiter is off here (one client address would be refused); with REDIS_URL its counters live in Redis, and in memory',
    '@fastify/rate-limit bounds them (an LRU of 5,000 keys per limit). SQLite\'s page cache does not apply (PostgreSQL).'
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const data = result.data as Data
  const values = data.instances.flatMap((x) => x.samples.flatMap((s) => [
    { instance: x.label, measure: 'RSS', t: s.t, mb: s.rssMB },
    { instance: x.label, measure: 'heap used', t: s.t, mb: s.heapUsedMB }
  ]))
  return {
    title: 'Soak: memory of two instances under mixed load (after a full GC)',
    width: 480,
    height: 260,
    data: { values },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds' },
          y: { field: 'mb', type: 'quantitative', title: 'MB', scale: { zero: true } },
          color: { field: 'instance', type: 'nominal', title: null, legend: { orient: 'top' } },
          strokeDash: { field: 'measure', type: 'nominal', title: null }
        }
      },
      { mark: { type: 'rule', strokeDash: [2, 2] }, encoding: { x: { datum: data.warmupS } } }
    ]
  }
}

export const soak: Scenario = {
  id: 'soak',
  title: '11. Soak: memory under sustained mixed load',
  estimateS: 630,
  optIn: true,
  method: [
    'Opt-in (`npm run bench -- --only soak`; a plain `npm run bench` leaves it out). Two Tessera processes (`node dist/server.js`,',
    'production argon2 parameters, `REVOCATION_MODE=hybrid`) on one PostgreSQL schema created for the run and one Redis.',
    'They differ in one setting: B runs with `MALLOC_ARENA_MAX=2`, A with glibc\'s default (8 arenas per core), so the',
    'effect of malloc arenas on RSS is measured side by side under the same load. Eight clients (keep-alive connections)',
    'send, each to A then B in turn, a mix of whoami 55 %, PATCH /v1/me 18 %, refresh 15 %, login 6 % and register 6 %',
    'for 10 minutes, each with its own accounts and their latest tokens. Every 15 s the clients are held until no request',
    'is in flight (a hash in progress holds a 19 MiB buffer: load, not retention), a bench-only preload',
    '(`bench/preload/soak.ts`) runs a full GC in each server and reports its heap and the size of each cache, and the bench',
    'reads VmRSS and RssAnon from `/proc`. The first quarter of the run is warm-up; slopes are fitted over the rest. The',
    `verified-token and revocation caches are bounded at ${CACHE_BOUND} entries here (JWT_VERIFY_CACHE, REVOCATION_CACHE_SIZE), so`,
    'that they are full before the warm-up ends: what grows after it is growth no bound stops.'
  ].join('\n'),
  run,
  markdown,
  chart
}
