// Scenario 5: bytes on the wire — access and refresh tokens from Tessera's own TokenIssuer, per algorithm.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { systemClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import type { JwtAlg } from '../../src/keys/key'
import { createKeyProvider } from '../../src/keys/key-provider'
import { newId, newSessionId } from '../../src/lib/ids'
import { TokenIssuer } from '../../src/tokens/token-issuer'
import { fmt, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'

const ALGS: JwtAlg[] = ['EdDSA', 'ES256', 'RS256', 'HS256']
const SAMPLES = 5
const SESSION_ID_BYTES = 32
/** 350 until every access token carried its session id (`sid`, 33 bytes; issue #14). */
const ACCESS_TARGET = 400

/** `label` names the row: the algorithm, or "EdDSA, hybrid" (absent in results from before hybrid mode). */
interface AlgSizes { alg: JwtAlg, label?: string, hybrid?: boolean, access: number[], refresh: number[], signature: number }
/** Each algorithm in stateless mode, then EdDSA with REVOCATION_MODE=hybrid (the access token gains `ver`). */
const ROWS: Array<{ alg: JwtAlg, hybrid: boolean }> = [...ALGS.map((alg) => ({ alg, hybrid: false })), { alg: 'EdDSA', hybrid: true }]
const labelOf = (a: AlgSizes): string => a.label ?? a.alg
interface Data { algs: AlgSizes[], sessionId: number }

const silent = { info: () => {}, error: () => {} }

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const dir = tempDir(ctx, 'sizes')
  const algs: AlgSizes[] = []
  for (const { alg, hybrid } of ROWS) {
    const label = hybrid ? `${alg}, REVOCATION_MODE=hybrid` : alg
    // Tessera's defaults (issuer, audience, lifetimes), and its own key handling: a key directory, or JWT_SECRET.
    const config = loadConfig({
      JWT_ALG: alg,
      JWT_KEYS_DIR: path.join(dir, hybrid ? `${alg}-hybrid` : alg),
      ...(alg === 'HS256' ? { JWT_SECRET: randomBytes(32).toString('base64url') } : {})
    })
    const keys = createKeyProvider(config.jwt, systemClock, silent)
    try {
      const issuer = new TokenIssuer(() => keys.ring(), { ...config.jwt, sessionClaims: hybrid }, systemClock)
      const access: number[] = []
      const refresh: number[] = []
      let signature = 0
      for (let i = 0; i < SAMPLES; i++) {
        const tokens = issuer.issue({ id: newId(), role: 'user', tokenVersion: 0 }, { id: newSessionId(), authTime: Math.floor(Date.now() / 1000), counter: 0 })
        access.push(Buffer.byteLength(tokens.accessToken))
        refresh.push(Buffer.byteLength(tokens.refreshToken))
        signature = tokens.accessToken.split('.')[2].length
      }
      algs.push({ alg, label, hybrid, access, refresh, signature })
    } finally {
      keys.close()
    }
  }
  const sessionId = Buffer.byteLength(randomBytes(SESSION_ID_BYTES).toString('base64url'))
  const eddsa = algs.find((a) => a.alg === 'EdDSA' && a.hybrid !== true)!
  const eddsaAccess = Math.max(...eddsa.access)
  return {
    params: { samples: SAMPLES, sessionIdBytes: SESSION_ID_BYTES, issuer: 'tessera', audience: 'tessera-api', role: 'user' },
    data: { algs, sessionId } satisfies Data,
    figures: [
      ...algs.flatMap((a) => [
        { name: `${labelOf(a)} access token`, value: Math.max(...a.access), unit: 'bytes' },
        { name: `${labelOf(a)} refresh token`, value: Math.max(...a.refresh), unit: 'bytes' }
      ]),
      { name: '32-byte session id (base64url)', value: sessionId, unit: 'bytes' }
    ],
    targets: [{ name: 'Token size: EdDSA access token', target: `< ${ACCESS_TARGET} bytes`, measured: `${eddsaAccess} bytes`, met: eddsaAccess < ACCESS_TARGET }]
  }
}

const range = (values: number[]): string => Math.min(...values) === Math.max(...values) ? String(values[0]) : `${Math.min(...values)}–${Math.max(...values)}`

function markdown (result: ScenarioResult): string {
  const { algs, sessionId } = result.data as Data
  return [
    '| Algorithm | Access token, bytes | Refresh token, bytes | Signature part, bytes | Access ÷ session id | Target |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...algs.map((a) => {
      const access = Math.max(...a.access)
      const target = a.alg === 'EdDSA' && a.hybrid !== true ? `< ${ACCESS_TARGET}: ${access < ACCESS_TARGET ? 'met' : `**missed** (${access})`}` : '—'
      return `| ${labelOf(a)} | ${range(a.access)} | ${range(a.refresh)} | ${a.signature} | ${fmt(access / sessionId, 1)} | ${target} |`
    }),
    `| 32-byte session id (base64url) | ${sessionId} | — | — | 1.0 | — |`,
    '',
    'Every token carries its session id `sid` (16 characters, 33 bytes of an access token), refresh tokens also its rotation counter `ctr`. With `REVOCATION_MODE=hybrid` the access token also carries `ver`; the stateless target does not apply to it.',
    '',
    '**Noise.** None: nothing is timed, and the five tokens of each algorithm have the same size.'
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const { algs, sessionId } = result.data as Data
  const values = [
    ...algs.flatMap((a) => [
      { what: labelOf(a), kind: 'access token', bytes: Math.max(...a.access) },
      { what: labelOf(a), kind: 'refresh token', bytes: Math.max(...a.refresh) }
    ]),
    { what: 'session id', kind: '32-byte session id', bytes: sessionId }
  ]
  return {
    title: 'Token size in bytes (Tessera defaults: iss "tessera", aud "tessera-api")',
    width: 420,
    height: 240,
    data: { values },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'what', type: 'nominal', title: null, sort: [...algs.map(labelOf), 'session id'] },
          xOffset: { field: 'kind', type: 'nominal' },
          y: { field: 'bytes', type: 'quantitative', title: 'bytes' },
          color: { field: 'kind', type: 'nominal', title: null, legend: { orient: 'top' } }
        }
      },
      { mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3] }, encoding: { y: { datum: ACCESS_TARGET } } }
    ]
  }
}

export const tokenSize: Scenario = {
  id: 'token-size',
  title: '5. Token size',
  estimateS: 2,
  timed: false,
  method: [
    'In-process, with Tessera\'s own code: configuration defaults from `loadConfig` (issuer `tessera`, audience',
    '`tessera-api`), a key made by Tessera\'s key provider in a temporary key directory (or `JWT_SECRET` for',
    'HS256), and `TokenIssuer.issue` for a user with a fresh 26-character id and role `user`; five tokens per',
    'algorithm (only `jti` and the signature differ, so the size is fixed). Compared with a 32-byte random',
    'session id in base64url, the usual stateful cookie value. There is no timing here, hence no noise;',
    'longer `JWT_ISSUER` or `JWT_AUDIENCE` values add their extra length to every token. One more row issues',
    'EdDSA tokens as `REVOCATION_MODE=hybrid` does (`ver` in the access token too). Every token carries its',
    'session id (`sid`), refresh tokens its rotation counter (`ctr`). Target: EdDSA access token < 400 bytes,',
    'in the default (stateless) mode.'
  ].join('\n'),
  run,
  markdown,
  chart
}
