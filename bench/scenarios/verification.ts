// Scenario 1: what verifying a token costs Tessera — GET /v1/auth/whoami against GET /health/live, same process.
import path from 'node:path'
import { bearerGets, runLoad, WARMUP_S, type LoadSample } from '../lib/load'
import { HEALTH_PATH, startServer } from '../lib/processes'
import { fmt, fmtInt, pct, seconds, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { disagreement, spread, type Spread } from '../lib/stats'
import { checkToken, tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { mintAccessTokens, mintSessionTokens, tesseraKeyDir } from '../lib/tokens'

export interface TesseraVariant {
  name: string
  label: string
  /** Environment on top of the bench's Tessera settings. */
  env: Record<string, string>
  /** Lowest acceptable whoami ÷ live ratio, when the variant has a target. */
  target?: number
  /** Also run in the smoke run (which otherwise starts only the first variant). */
  smoke?: boolean
}

/**
 * Each entry is one Tessera process measured on its own (live, whoami, live, whoami); the smoke run
 * starts the first and those marked `smoke`. A new mode of Tessera is one more line here. With
 * REVOCATION_MODE=hybrid the tokens carry `ver` and `sid` and their users exist in the server's database
 * (see runVariant).
 */
export const TESSERA_VARIANTS: TesseraVariant[] = [
  { name: 'default', label: 'JWT_VERIFY_CACHE=10000 (default)', env: {}, target: 0.85 },
  { name: 'no-cache', label: 'JWT_VERIFY_CACHE=0 (worst case)', env: { JWT_VERIFY_CACHE: '0' } },
  { name: 'hybrid', label: 'REVOCATION_MODE=hybrid (cache TTL 5 s)', env: { REVOCATION_MODE: 'hybrid' }, smoke: true }
]

const TOKENS = 2000
const CONNECTIONS = 20

interface Round { live: LoadSample, whoami: LoadSample, ratio: number }
interface VariantData {
  name: string
  label: string
  env: Record<string, string>
  target: number | null
  rounds: Round[]
  ratio: Spread
  liveRps: Spread
  whoamiRps: Spread
  whoamiP99Ms: Spread
}
interface Data { variants: VariantData[] }

async function runVariant (ctx: BenchContext, variant: TesseraVariant, params: { tokens: number, phaseS: number, warmupS: number, connections: number }): Promise<VariantData> {
  const dir = tempDir(ctx, `verify-${variant.name}`)
  const key = tesseraKeyDir(path.join(dir, 'keys'))
  // Hybrid tokens must name users and sessions the server can look up: made in its database before it starts.
  const { tokens, subs } = variant.env.REVOCATION_MODE === 'hybrid'
    ? await mintSessionTokens(key, path.join(dir, 'tessera.db'), params.tokens)
    : mintAccessTokens(key, params.tokens)
  const server = await startServer(tesseraSpec(`tessera ${variant.name}`, dir, variant.env))
  try {
    await checkToken(server, WHOAMI_PATH, tokens[0], subs[0])
    await checkToken(server, WHOAMI_PATH, tokens[tokens.length - 1], subs[subs.length - 1])
    const base = { baseUrl: server.baseUrl, connections: params.connections }
    // Warm-up: JIT, and every token presented at least once so a cache that can hold them all is full.
    await runLoad({ ...base, label: 'warm-up whoami', requests: bearerGets(WHOAMI_PATH, tokens), amount: Math.max(3 * tokens.length, params.connections * 10) })
    await runLoad({ ...base, label: 'warm-up whoami', requests: bearerGets(WHOAMI_PATH, tokens), durationS: params.warmupS })
    await runLoad({ ...base, label: 'warm-up live', requests: bearerGets(HEALTH_PATH, tokens), durationS: params.phaseS / 4 })
    const rounds: Round[] = []
    for (let r = 0; r < ctx.rounds; r++) {
      // The same rotating Authorization header on both: the generator does the same work, only the server differs.
      const live = await runLoad({ ...base, label: `${variant.name} live #${r + 1}`, requests: bearerGets(HEALTH_PATH, tokens), durationS: params.phaseS })
      const whoami = await runLoad({ ...base, label: `${variant.name} whoami #${r + 1}`, requests: bearerGets(WHOAMI_PATH, tokens), durationS: params.phaseS })
      rounds.push({ live, whoami, ratio: whoami.rps / live.rps })
      ctx.log(`  ${variant.name} round ${r + 1}: live ${fmtInt(live.rps)} req/s, whoami ${fmtInt(whoami.rps)} req/s, ratio ${fmt(whoami.rps / live.rps)}`)
    }
    return {
      name: variant.name,
      label: variant.label,
      env: variant.env,
      target: variant.target ?? null,
      rounds,
      ratio: spread(rounds.map((x) => x.ratio)),
      liveRps: spread(rounds.map((x) => x.live.rps)),
      whoamiRps: spread(rounds.map((x) => x.whoami.rps)),
      whoamiP99Ms: spread(rounds.map((x) => x.whoami.latencyMs.p99))
    }
  } finally {
    await server.stop()
  }
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const params = { tokens: ctx.smoke ? 50 : TOKENS, phaseS: seconds(ctx, 8, 0.1), warmupS: seconds(ctx, WARMUP_S, 0.1), connections: ctx.smoke ? 5 : CONNECTIONS }
  const variants: VariantData[] = []
  // The smoke run starts the first variant and those marked `smoke`: each start costs about a second.
  const selected = ctx.smoke ? TESSERA_VARIANTS.filter((v, i) => i === 0 || v.smoke === true) : TESSERA_VARIANTS
  for (const variant of selected) variants.push(await runVariant(ctx, variant, params))
  return {
    params: { ...params, rounds: ctx.rounds, variants: TESSERA_VARIANTS },
    data: { variants } satisfies Data,
    figures: variants.flatMap((v) => [
      { name: `${v.name}: whoami ÷ live (median)`, value: v.ratio.median, unit: 'ratio' },
      { name: `${v.name}: whoami req/s (median)`, value: v.whoamiRps.median, unit: 'req/s' }
    ]),
    targets: [
      ...variants.filter((v) => v.target !== null).map((v) => ({
        name: `Verification overhead, ${v.label}: whoami ÷ live`,
        target: `≥ ${fmt(v.target!)}`,
        measured: `${fmt(v.ratio.median)} median, ${fmt(v.ratio.min)} min`,
        met: v.ratio.median >= v.target!
      })),
      ...hybridTarget(variants)
    ]
  }
}

/** Issue #9's target: hybrid whoami throughput at least 0.8 of stateless, both from this run. */
const HYBRID_MIN = 0.8
function hybridVersusStateless (variants: VariantData[]): { ratio: number, p99: [number, number] } | null {
  const stateless = variants.find((v) => v.name === 'default')
  const hybrid = variants.find((v) => v.name === 'hybrid')
  if (stateless === undefined || hybrid === undefined) return null
  return { ratio: hybrid.whoamiRps.median / stateless.whoamiRps.median, p99: [stateless.whoamiP99Ms.median, hybrid.whoamiP99Ms.median] }
}

function hybridTarget (variants: VariantData[]): Array<{ name: string, target: string, measured: string, met: boolean }> {
  const hybrid = hybridVersusStateless(variants)
  if (hybrid === null) return []
  return [{ name: 'Hybrid ÷ stateless whoami req/s', target: `≥ ${fmt(HYBRID_MIN)}`, measured: `${fmt(hybrid.ratio)} (medians)`, met: hybrid.ratio >= HYBRID_MIN }]
}

function markdown (result: ScenarioResult): string {
  const { variants } = result.data as Data
  const hybrid = hybridVersusStateless(variants)
  const rows = variants.map((v) =>
    `| ${v.label} | ${fmt(v.ratio.median)} | ${fmt(v.ratio.min)} | ${fmtInt(v.whoamiRps.median)} | ${fmtInt(v.liveRps.median)} | ${fmt(v.whoamiP99Ms.median, 0)} | ${v.target === null ? '—' : `≥ ${fmt(v.target)}: ${v.ratio.median >= v.target ? 'met' : `**missed** (${fmt(v.ratio.median)})`}`} |`)
  const roundRows = variants.flatMap((v) => v.rounds.map((r, i) =>
    `| ${v.name} | ${i + 1} | ${fmtInt(r.live.rps)} | ${fmtInt(r.whoami.rps)} | ${fmt(r.ratio)} |`))
  return [
    '| Tessera variant | whoami ÷ live, median | min | whoami req/s | live req/s | whoami p99 ms | Target |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    ...(hybrid === null
      ? []
      : [`**Hybrid ÷ stateless** (whoami req/s medians, same run): ${fmt(hybrid.ratio)} — target ≥ ${fmt(HYBRID_MIN)}: ${hybrid.ratio >= HYBRID_MIN ? 'met' : '**missed**'}. ` +
        `whoami p99: ${fmt(hybrid.p99[0], 0)} ms stateless, ${fmt(hybrid.p99[1], 0)} ms hybrid.`, '']),
    'Every round (in the order run):',
    '',
    '| Variant | Round | live req/s | whoami req/s | ratio |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...roundRows,
    '',
    `**Noise.** Between rounds, the ratio moved by ${variants.map((v) => `${pct(disagreement(v.ratio))} (${v.name})`).join(', ')} of its median, ` +
      `and live req/s alone by ${variants.map((v) => `${pct(disagreement(v.liveRps))} (${v.name})`).join(', ')}: the ratio cancels part of the machine's drift.`
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const { variants } = result.data as Data
  const values = variants.flatMap((v) => v.rounds.map((r, i) => ({ variant: v.label, round: i + 1, ratio: r.ratio, median: v.ratio.median })))
  return {
    title: 'GET /v1/auth/whoami ÷ GET /health/live (req/s, same process)',
    width: 480,
    height: { step: 40 },
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#9ecae1' }, encoding: { y: { field: 'variant', type: 'nominal', title: null }, x: { aggregate: 'median', field: 'ratio', type: 'quantitative', title: 'ratio (bar: median, dots: rounds; dashed: target 0.85)' } } },
      { mark: { type: 'point', filled: true, color: '#08519c' }, encoding: { y: { field: 'variant', type: 'nominal' }, x: { field: 'ratio', type: 'quantitative' } } },
      { mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3] }, encoding: { x: { datum: 0.85 } } }
    ]
  }
}

export const verification: Scenario = {
  id: 'verification',
  title: '1. Verification overhead',
  estimateS: 150,
  method: [
    'One Tessera process per variant (`RATE_LIMIT=off`, `LOG_LEVEL=warn`, SQLite in a temporary directory). Its',
    'Ed25519 signing key is written to the key directory before the start, as a first start does, and the bench',
    'signs 2,000 access tokens for 2,000 distinct users with it (fast-jwt; header `{alg, typ: "at+jwt", kid}`,',
    'claims `iss aud sub role iat exp jti`). The first and last token are checked against the server before any',
    'load. autocannon (20 connections, no pipelining) sends `GET /v1/auth/whoami` with the tokens in rotation',
    '(`setupRequest`), and `GET /health/live` with the same rotating `Authorization` header, which that route',
    'ignores: the load generator does the same work for both, only the server\'s work differs. After a warm-up',
    `(every token presented three times, so a cache that holds them all is full, then ${WARMUP_S} s of whoami), the two loads alternate in the`,
    'same process, live, whoami, live, whoami, 8 s each. The figure is whoami req/s ÷ live req/s of the same',
    'round; the target (≥ 0.85) applies to the default configuration. `JWT_VERIFY_CACHE=0` is the worst case:',
    'every request verifies an Ed25519 signature. `REVOCATION_MODE=hybrid` (default cache: 50,000 entries, 5 s)',
    'gets tokens that also carry `ver` and `sid`, for 2,000 users created in its SQLite database through Tessera\'s',
    'store before the start, one session each: its whoami pays the revocation check, a cache hit, and one store',
    'read per user and session every 5 s (about 400 reads/s here). Variants are listed in `TESSERA_VARIANTS`',
    '(`bench/scenarios/verification.ts`); a new mode of Tessera is one more line there.'
  ].join('\n'),
  run,
  markdown,
  chart
}
