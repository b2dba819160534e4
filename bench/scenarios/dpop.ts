// Scenario 9: what DPoP (RFC 9449) costs — whoami with a bound token and a fresh proof against whoami with a Bearer token,
// same process and run; the replay cache's memory; the bound access token's size.
import { execFile } from 'node:child_process'
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import type autocannon from 'autocannon'
import { createSigner } from 'fast-jwt'
import { systemClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { createKeyProvider } from '../../src/keys/key-provider'
import { newId, newSessionId } from '../../src/lib/ids'
import { ACCESS_TYP } from '../../src/tokens/claims'
import { TokenIssuer } from '../../src/tokens/token-issuer'
import { bearerGets, runLoad, WARMUP_S, type LoadSample } from '../lib/load'
import { REPO_ROOT, startServer } from '../lib/processes'
import { count, fmt, fmtInt, pct, tempDir, type BenchContext, type Scenario, type ScenarioOutcome, type ScenarioResult } from '../lib/scenario'
import { disagreement, spread, type Spread } from '../lib/stats'
import { checkToken, tesseraSpec, WHOAMI_PATH } from '../lib/tessera'
import { ACCESS_TTL_S, AUDIENCE, ISSUER, mintAccessTokens, tesseraKeyDir, type KeyMaterial } from '../lib/tokens'

const CLIENTS = 2000
const CONNECTIONS = 20
/** Requests per measured phase: each DPoP request needs a proof of its own, made before the phase starts. */
const REQUESTS = 20_000
const REPLAY_CACHE_DEFAULT = 100_000
/** Proofs a client's requests leave in the replay window (DPOP_PROOF_MAX_AGE 60 s + CLOCK_TOLERANCE 30 s) at 1 req/s. */
const WINDOW_S = 90
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href

interface Client { privateKey: KeyObject, header: string, jkt: string, token: string, sub: string }
interface Round { bearer: LoadSample, dpop: LoadSample, ratio: number }
interface ReplayMemory { entries: number, size: number, heapBytes: number, bytesPerEntry: number }
interface Data {
  rounds: Round[]
  ratio: Spread
  bearerRps: Spread
  dpopRps: Spread
  dpopP99Ms: Spread
  replay: ReplayMemory
  /** Bytes of an EdDSA access token from Tessera's TokenIssuer, unbound and bound (`cnf.jkt`). */
  tokenBytes: { bearer: number, bound: number }
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** 2,000 clients, each with its own P-256 key and an access token bound to it (claims as Tessera issues them). */
function boundClients (key: KeyMaterial, n: number): Client[] {
  const signToken = createSigner({ key: key.signKey, algorithm: key.alg, kid: key.kid, header: { alg: key.alg, typ: ACCESS_TYP } }) as
    (payload: Record<string, unknown>) => string
  const now = Math.floor(Date.now() / 1000)
  return Array.from({ length: n }, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
    // RFC 7638: the required members in lexicographic order, no spaces.
    const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url')
    const sub = newId()
    const token = signToken({ iss: ISSUER, aud: AUDIENCE, sub, role: 'user', iat: now, exp: now + ACCESS_TTL_S, jti: randomBytes(12).toString('base64url'), cnf: { jkt } })
    return { privateKey, header: b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }), jkt, token, sub }
  })
}

function proof (client: Client, htu: string): string {
  const input = `${client.header}.${b64({ jti: randomUUID(), htm: 'GET', htu, iat: Math.floor(Date.now() / 1000), ath: createHash('sha256').update(client.token).digest('base64url') })}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: client.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

/** `n` requests, clients in rotation, each with a proof made now (before the phase): the generator only sends. */
function dpopGets (clients: Client[], htu: string, n: number): autocannon.Request[] {
  const headers = Array.from({ length: n }, (_, i) => {
    const client = clients[i % clients.length]
    return { authorization: `DPoP ${client.token}`, dpop: proof(client, htu) }
  })
  let next = 0
  return [{ method: 'GET', path: WHOAMI_PATH, setupRequest: (req) => { req.headers = { ...req.headers, ...headers[next++ % headers.length] }; return req } }]
}

async function replayMemory (entries: number): Promise<ReplayMemory> {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', TSX_LOADER, path.join(REPO_ROOT, 'bench/lib/dpop-replay-memory.ts'), String(entries)],
    { cwd: REPO_ROOT, env, timeout: 120_000 })
  return JSON.parse(stdout) as ReplayMemory
}

function tokenBytes (dir: string): { bearer: number, bound: number } {
  const config = loadConfig({ JWT_KEYS_DIR: path.join(dir, 'size-keys') })
  const keys = createKeyProvider(config.jwt, systemClock, { info: () => {}, error: () => {} })
  try {
    const issuer = new TokenIssuer(() => keys.ring(), config.jwt, systemClock)
    const user = { id: newId(), role: 'user' as const, tokenVersion: 0 }
    const session = { id: newSessionId(), authTime: Math.floor(Date.now() / 1000), counter: 0 }
    const jkt = randomBytes(32).toString('base64url')
    return { bearer: Buffer.byteLength(issuer.issue(user, session).accessToken), bound: Buffer.byteLength(issuer.issue(user, session, { jkt }).accessToken) }
  } finally {
    keys.close()
  }
}

async function run (ctx: BenchContext): Promise<ScenarioOutcome> {
  const params = { clients: ctx.smoke ? 50 : CLIENTS, requests: count(ctx, REQUESTS, 200, 100), connections: ctx.smoke ? 5 : CONNECTIONS }
  const dir = tempDir(ctx, 'dpop')
  const key = tesseraKeyDir(path.join(dir, 'keys'))
  const bearer = mintAccessTokens(key, params.clients)
  const clients = boundClients(key, params.clients)
  const server = await startServer(tesseraSpec('tessera dpop', dir, {}))
  const rounds: Round[] = []
  try {
    await checkToken(server, WHOAMI_PATH, bearer.tokens[0], bearer.subs[0])
    const htu = server.baseUrl + WHOAMI_PATH
    const base = { baseUrl: server.baseUrl, connections: params.connections }
    // Warm-up: JIT, jose loaded, every token in the verified-token cache.
    await runLoad({ ...base, label: 'warm-up bearer', requests: bearerGets(WHOAMI_PATH, bearer.tokens), amount: 3 * params.clients })
    await runLoad({ ...base, label: 'warm-up bearer', requests: bearerGets(WHOAMI_PATH, bearer.tokens), durationS: ctx.smoke ? 0.1 : WARMUP_S })
    await runLoad({ ...base, label: 'warm-up dpop', requests: dpopGets(clients, htu, 2 * params.clients), amount: 2 * params.clients })
    for (let r = 0; r < ctx.rounds; r++) {
      const b = await runLoad({ ...base, label: `bearer #${r + 1}`, requests: bearerGets(WHOAMI_PATH, bearer.tokens), amount: params.requests })
      const d = await runLoad({ ...base, label: `dpop #${r + 1}`, requests: dpopGets(clients, htu, params.requests), amount: params.requests })
      rounds.push({ bearer: b, dpop: d, ratio: d.rps / b.rps })
      ctx.log(`  round ${r + 1}: Bearer ${fmtInt(b.rps)} req/s, DPoP ${fmtInt(d.rps)} req/s, ratio ${fmt(d.rps / b.rps)}`)
    }
  } finally {
    await server.stop()
  }
  const replay = await replayMemory(ctx.smoke ? 2000 : REPLAY_CACHE_DEFAULT)
  const data: Data = {
    rounds,
    ratio: spread(rounds.map((x) => x.ratio)),
    bearerRps: spread(rounds.map((x) => x.bearer.rps)),
    dpopRps: spread(rounds.map((x) => x.dpop.rps)),
    dpopP99Ms: spread(rounds.map((x) => x.dpop.latencyMs.p99)),
    replay,
    tokenBytes: tokenBytes(dir)
  }
  const atClients = Math.min(CLIENTS * WINDOW_S, REPLAY_CACHE_DEFAULT) * replay.bytesPerEntry
  return {
    params: { ...params, rounds: ctx.rounds, proofAlg: 'ES256', replayCacheEntries: replay.entries },
    data,
    figures: [
      { name: 'whoami DPoP ÷ Bearer (median)', value: data.ratio.median, unit: 'ratio' },
      { name: 'whoami DPoP req/s (median)', value: data.dpopRps.median, unit: 'req/s' },
      { name: 'whoami Bearer req/s (median)', value: data.bearerRps.median, unit: 'req/s' },
      { name: 'replay cache bytes per entry', value: replay.bytesPerEntry, unit: 'B' },
      { name: 'replay cache at 2,000 clients × 1 req/s (bounded)', value: atClients / 2 ** 20, unit: 'MiB' },
      { name: 'bound access token (EdDSA)', value: data.tokenBytes.bound, unit: 'B' }
    ],
    targets: []
  }
}

function markdown (result: ScenarioResult): string {
  const d = result.data as Data
  const perEntry = d.replay.bytesPerEntry
  const mib = (entries: number): string => fmt(entries * perEntry / 2 ** 20, 1)
  return [
    '| | req/s, median | p99 ms, median |',
    '| --- | ---: | ---: |',
    `| whoami, Bearer token | ${fmtInt(d.bearerRps.median)} | ${fmt(d.rounds.length === 0 ? NaN : spread(d.rounds.map((r) => r.bearer.latencyMs.p99)).median, 0)} |`,
    `| whoami, DPoP-bound token + proof (ES256) | ${fmtInt(d.dpopRps.median)} | ${fmt(d.dpopP99Ms.median, 0)} |`,
    '',
    `**whoami with DPoP ÷ whoami with Bearer** (same process, same run): ${fmt(d.ratio.median)} median, ${fmt(d.ratio.min)} min. ` +
      'A proof costs a signature check per request, which no cache can save (each proof is new), and a replay-cache insertion.',
    '',
    `**Replay cache**: ${fmt(perEntry, 0)} bytes of heap per entry (${fmtInt(d.replay.size)} entries measured alone). ` +
      `At 2,000 clients sending 1 request/s each, the ${WINDOW_S} s window (DPOP_PROOF_MAX_AGE 60 s + CLOCK_TOLERANCE 30 s) would hold ` +
      `${fmtInt(CLIENTS * WINDOW_S)} proofs; the default bound DPOP_REPLAY_CACHE=${fmtInt(REPLAY_CACHE_DEFAULT)} caps it at ${mib(REPLAY_CACHE_DEFAULT)} MiB. ` +
      `2,000 clients at one request every 10 s: ${fmtInt(CLIENTS * WINDOW_S / 10)} entries, ${mib(CLIENTS * WINDOW_S / 10)} MiB.`,
    '',
    `**Bound access token** (EdDSA, defaults, from TokenIssuer): ${d.tokenBytes.bound} bytes, against ${d.tokenBytes.bearer} unbound ` +
      `(\`cnf.jkt\` adds ${d.tokenBytes.bound - d.tokenBytes.bearer}). A request also carries the proof: about 400 bytes for ES256.`,
    '',
    'Every round (in the order run):',
    '',
    '| Round | Bearer req/s | DPoP req/s | ratio |',
    '| ---: | ---: | ---: | ---: |',
    ...d.rounds.map((r, i) => `| ${i + 1} | ${fmtInt(r.bearer.rps)} | ${fmtInt(r.dpop.rps)} | ${fmt(r.ratio)} |`),
    '',
    `**Noise.** Between rounds, the ratio moved by ${pct(disagreement(d.ratio))} of its median, and Bearer req/s alone by ${pct(disagreement(d.bearerRps))}.`
  ].join('\n')
}

function chart (result: ScenarioResult): Record<string, unknown> {
  const d = result.data as Data
  const values = d.rounds.flatMap((r, i) => [
    { token: 'Bearer', round: i + 1, rps: r.bearer.rps },
    { token: 'DPoP + proof', round: i + 1, rps: r.dpop.rps }
  ])
  return {
    title: 'GET /v1/auth/whoami req/s: Bearer against DPoP (same process)',
    width: 480,
    height: { step: 40 },
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#9ecae1' }, encoding: { y: { field: 'token', type: 'nominal', title: null }, x: { aggregate: 'median', field: 'rps', type: 'quantitative', title: 'req/s (bar: median, dots: rounds)' } } },
      { mark: { type: 'point', filled: true, color: '#08519c' }, encoding: { y: { field: 'token', type: 'nominal' }, x: { field: 'rps', type: 'quantitative' } } }
    ]
  }
}

export const dpop: Scenario = {
  id: 'dpop',
  title: '9. DPoP: sender-constrained tokens',
  estimateS: 70,
  method: [
    'One Tessera process at its defaults (`DPOP=optional`, `RATE_LIMIT=off`, `LOG_LEVEL=warn`). The bench signs, with the',
    'server\'s Ed25519 key, 2,000 Bearer access tokens for 2,000 users and 2,000 access tokens bound (`cnf.jkt`) to 2,000',
    'client P-256 keys, one per client. Before each DPoP phase it makes one ES256 proof per request (`htm`, `htu`, `iat`,',
    'a fresh `jti`, `ath`), so the load generator only sends, as in the Bearer phase. autocannon (20 connections) sends',
    `\`GET /v1/auth/whoami\` with the tokens in rotation; after a warm-up (every token in the verified-token cache, ${WARMUP_S} s of Bearer load, jose`,
    'loaded), Bearer and DPoP phases of 20,000 requests alternate, twice. The figure is DPoP req/s ÷ Bearer req/s of the',
    'same round. The replay cache\'s memory is measured in a child process (`--expose-gc`): heap after filling a',
    '`MemoryReplayCache` with 100,000 proofs of 2,000 clients, per entry. The bound token\'s size comes from Tessera\'s',
    'own `TokenIssuer`.'
  ].join('\n'),
  run,
  markdown,
  chart
}
