// Scenario 2: Tessera's whoami against the same route on the usual Node.js stacks, one server at a time.
import { cpus } from 'node:os'
import path from 'node:path'
import type { JwtAlg } from '../../src/keys/key'
import { bearerGets, runLoad, WARMUP_S, type LoadSample } from '../lib/load'
import { getStatus, HEALTH_PATH, startServer, type RunningServer, type ServerSpec } from '../lib/processes'
import { fmt, fmtInt, pct, seconds, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { disagreement, spread, type Spread } from '../lib/stats'
import { checkToken, tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { AUDIENCE, ISSUER, mintAccessTokens, newKey, tesseraKeyDir, type KeyMaterial } from '../lib/tokens'

/** Tessera's default JWT_VERIFY_CACHE, given to the Fastify peer too. */
const VERIFY_CACHE = 10_000
const TOKENS = 2000
const CONNECTIONS = 20
/**
 * Three rounds, one more than most scenarios: with two, the "median" is their mean and one disturbed round decides it
 * (the machine moved plain Fastify between 29k and 40k req/s from one round to the next).
 */
const ROUNDS = 3

interface Target {
  id: string
  label: string
  alg: JwtAlg
  path: string
  /** Peer entry file; Tessera when absent. */
  script?: string
  /** Tessera ÷ this target must be at least this much (the "tessera" row has none). */
  minRatio?: number
  /** The peer checks no token, so it cannot echo the token's claims: only its 200 is checked before the load. */
  noCheck?: boolean
}

const TARGETS: Target[] = [
  { id: 'tessera', label: 'Tessera (EdDSA)', alg: 'EdDSA', path: WHOAMI_PATH },
  { id: 'passport-hs256', label: 'Express + passport-jwt (HS256)', alg: 'HS256', path: '/whoami', script: 'bench/peers/express-passport.ts', minRatio: 1 },
  { id: 'passport-es256', label: 'Express + passport-jwt (ES256)', alg: 'ES256', path: '/whoami', script: 'bench/peers/express-passport.ts', minRatio: 1 },
  { id: 'express-jwt-hs256', label: 'Express + express-jwt (HS256)', alg: 'HS256', path: '/whoami', script: 'bench/peers/express-jwt.ts', minRatio: 1 },
  { id: 'fastify-jwt-eddsa', label: 'Fastify + @fastify/jwt (EdDSA, cache 10,000)', alg: 'EdDSA', path: '/whoami', script: 'bench/peers/fastify-jwt.ts', minRatio: 0.9 },
  // No token check at all: what Tessera's whole request path (auth, logging, headers, CORS) costs over bare Fastify.
  { id: 'fastify-hello', label: 'Fastify, no authentication (fixed body)', alg: 'EdDSA', path: '/whoami', script: 'bench/peers/fastify-hello.ts', minRatio: 0.85, noCheck: true }
]

interface TargetData {
  id: string
  label: string
  alg: JwtAlg
  samples: LoadSample[]
  rps: Spread
  p99Ms: Spread
  /** Tessera req/s ÷ this target's req/s, per round. */
  tesseraRatio: Spread
  minRatio: number | null
}
interface Data { targets: TargetData[] }

function spec (target: Target, key: KeyMaterial, dir: string): ServerSpec {
  if (target.script === undefined) return tesseraSpec('tessera', dir)
  return {
    name: target.id,
    script: target.script,
    cwd: dir,
    env: {
      BENCH_ALG: target.alg,
      BENCH_VERIFY_KEY: key.verifyKey,
      BENCH_ISSUER: ISSUER,
      BENCH_AUDIENCE: AUDIENCE,
      BENCH_VERIFY_CACHE: String(VERIFY_CACHE)
    }
  }
}

async function checkStatus (server: RunningServer, urlPath: string): Promise<void> {
  const { status, body } = await getStatus(server.baseUrl + urlPath)
  if (status !== 200) throw new Error(`${server.name} answered ${urlPath} with HTTP ${status} ${body}`)
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const params = { tokens: ctx.smoke ? 50 : TOKENS, phaseS: seconds(ctx, 8, 0.1), warmupS: seconds(ctx, WARMUP_S, 0.1), connections: ctx.smoke ? 5 : CONNECTIONS }
  const dir = tempDir(ctx, 'peers')
  // One key and one token set per target: Tessera's key lives in its key directory, the peers get theirs in the environment.
  const keys = new Map<string, KeyMaterial>()
  const minted = new Map<string, ReturnType<typeof mintAccessTokens>>()
  for (const target of TARGETS) {
    const key = target.script === undefined ? tesseraKeyDir(path.join(dir, 'keys')) : newKey(target.alg)
    keys.set(target.id, key)
    minted.set(target.id, mintAccessTokens(key, params.tokens))
  }

  const samples = new Map<string, LoadSample[]>(TARGETS.map((t) => [t.id, []]))
  // Rounds: every target once, in the same order, then again — Tessera and each peer alternate (A B A B).
  const rounds = ctx.smoke ? 1 : ROUNDS
  for (let r = 0; r < rounds; r++) {
    for (const target of TARGETS) {
      const { tokens, subs } = minted.get(target.id)!
      const server = await startServer(spec(target, keys.get(target.id)!, dir))
      try {
        if (target.noCheck === true) await checkStatus(server, target.path)
        else await checkToken(server, target.path, tokens[0], subs[0])
        const base = { baseUrl: server.baseUrl, connections: params.connections, requests: bearerGets(target.path, tokens) }
        await runLoad({ ...base, label: `${target.id} warm-up`, durationS: params.warmupS })
        const sample = await runLoad({ ...base, label: `${target.id} #${r + 1}`, durationS: params.phaseS })
        samples.get(target.id)!.push(sample)
        ctx.log(`  round ${r + 1} ${target.label}: ${fmtInt(sample.rps)} req/s, p99 ${sample.latencyMs.p99} ms`)
      } finally {
        await server.stop()
      }
    }
  }

  const tessera = samples.get('tessera')!
  const targets: TargetData[] = TARGETS.map((target) => {
    const own = samples.get(target.id)!
    return {
      id: target.id,
      label: target.label,
      alg: target.alg,
      samples: own,
      rps: spread(own.map((s) => s.rps)),
      p99Ms: spread(own.map((s) => s.latencyMs.p99)),
      tesseraRatio: spread(own.map((s, i) => tessera[i].rps / s.rps)),
      minRatio: target.minRatio ?? null
    }
  })
  return {
    params: { ...params, rounds, verifyCache: VERIFY_CACHE, healthPath: HEALTH_PATH },
    data: { targets } satisfies Data,
    figures: targets.map((t) => ({ name: `${t.label}: req/s (median)`, value: t.rps.median, unit: 'req/s' })),
    targets: targets.filter((t) => t.minRatio !== null).map((t) => ({
      name: `Tessera ÷ ${t.label}`,
      target: t.minRatio === 1 ? '> 1 (Tessera ahead)' : `≥ ${fmt(t.minRatio!)}`,
      measured: `${fmt(t.tesseraRatio.median)} median, ${fmt(t.tesseraRatio.min)} min`,
      met: t.minRatio === 1 ? t.tesseraRatio.median > 1 : t.tesseraRatio.median >= t.minRatio!
    }))
  }
}

function markdown (result: ScenarioResult): string {
  const { targets } = result.data as Data
  const verdict = (t: TargetData): string => {
    if (t.minRatio === null) return '—'
    const met = t.minRatio === 1 ? t.tesseraRatio.median > 1 : t.tesseraRatio.median >= t.minRatio
    const goal = t.minRatio === 1 ? '> 1' : `≥ ${fmt(t.minRatio)}`
    return `${goal}: ${met ? 'met' : `**missed** (${fmt(t.tesseraRatio.median)})`}`
  }
  return [
    '| Stack | req/s, median | min | p99 ms, median | Tessera ÷ stack, median | min | Target |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...targets.map((t) => `| ${t.label} | ${fmtInt(t.rps.median)} | ${fmtInt(t.rps.min)} | ${fmt(t.p99Ms.median, 0)} | ${t.id === 'tessera' ? '1.00' : fmt(t.tesseraRatio.median)} | ${t.id === 'tessera' ? '—' : fmt(t.tesseraRatio.min)} | ${verdict(t)} |`),
    '',
    `**Noise.** Between rounds, one stack's req/s moved by ${targets.map((t) => `${pct(disagreement(t.rps))} (${t.id})`).join(', ')} of its median. ` +
      `Load average (1 min) ${fmt(result.loadAvg.before)} before, ${fmt(result.loadAvg.after)} after, on ${cpus().length} cores${result.loadAvg.before > cpus().length / 2 ? ': other work shared the machine.' : '.'}`
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const { targets } = result.data as Data
  const values = targets.flatMap((t) => t.samples.map((s, i) => ({ stack: t.label, round: i + 1, rps: s.rps })))
  return {
    title: 'GET whoami with 2,000 rotating tokens, req/s (bar: median, dots: rounds)',
    width: 480,
    height: { step: 34 },
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#9ecae1' }, encoding: { y: { field: 'stack', type: 'nominal', title: null, sort: null }, x: { aggregate: 'median', field: 'rps', type: 'quantitative', title: 'req/s' } } },
      { mark: { type: 'point', filled: true, color: '#08519c' }, encoding: { y: { field: 'stack', type: 'nominal', sort: null }, x: { field: 'rps', type: 'quantitative' } } }
    ]
  }
}

export const peers: Scenario = {
  id: 'peers',
  title: '2. Against the usual stacks',
  estimateS: 340,
  method: [
    'Six servers, each a separate process started for its turn and stopped after it, so only one runs at a time:',
    'Tessera (EdDSA, default configuration as in scenario 1), and in `bench/peers/`: Express 5 + passport-jwt with',
    'HS256 and with ES256, Express 5 + express-jwt with HS256, and plain Fastify 5 + @fastify/jwt with EdDSA and a',
    'verification cache of 10,000 entries (Tessera\'s default `JWT_VERIFY_CACHE`). Each checks the algorithm, `iss`',
    'and `aud`, and answers `GET /whoami` with the claims `{ sub, role, iat, exp, jti }`. The sixth, plain Fastify with',
    'no authentication (`bench/peers/fastify-hello.ts`), answers a fixed body of the same shape and ignores the',
    '`Authorization` header it is sent: the ceiling for a whoami on Fastify. Each gets 2,000 tokens for',
    '2,000 distinct users, minted with its own key for its algorithm, in rotation; one token is checked before the',
    `load. Per turn: ${WARMUP_S} s warm-up (Tessera needs about 8 s of load to reach its steady rate), then 8 s measured (autocannon, 20 connections). Three rounds in the same order`,
    '(Tessera, then each peer; then all again, twice), so Tessera and each peer alternate A B A B A B. The figure is Tessera',
    'req/s ÷ peer req/s of the same round, median over the rounds. Targets: Tessera ahead of every Express stack (> 1), ≥ 0.90 of',
    'Fastify + @fastify/jwt, and ≥ 0.85 of Fastify with no authentication.'
  ].join('\n'),
  run,
  markdown,
  chart
}
