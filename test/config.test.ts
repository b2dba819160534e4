// loadConfig: weak or contradictory settings are refused with a message naming the variable; durations and defaults.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../src/config'
import { refusal } from './support/app'
import { parseDuration } from '../src/lib/duration'


const SECRET_31 = 'x'.repeat(31)
const SECRET_32 = 'y'.repeat(32)

t.test('refusals name the variable', async (t) => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['JWT_SECRET shorter than 32 bytes with HS256', { JWT_ALG: 'HS256', JWT_SECRET: SECRET_31 }, 'JWT_SECRET'],
    ['HS256 without a secret', { JWT_ALG: 'HS256' }, 'JWT_SECRET'],
    ['HS256 with an empty secret', { JWT_ALG: 'HS256', JWT_SECRET: '' }, 'JWT_SECRET'],
    ['JWT_SECRET with EdDSA (the default)', { JWT_SECRET: SECRET_32 }, 'JWT_SECRET'],
    ['JWT_SECRET with ES256', { JWT_ALG: 'ES256', JWT_SECRET: SECRET_32 }, 'JWT_SECRET'],
    ['CLOCK_TOLERANCE 6m (cap is 5m)', { CLOCK_TOLERANCE: '6m' }, 'CLOCK_TOLERANCE'],
    ['CLOCK_TOLERANCE 301 s', { CLOCK_TOLERANCE: '301' }, 'CLOCK_TOLERANCE'],
    ['JWT_ISSUER === JWT_AUDIENCE', { JWT_ISSUER: 'same', JWT_AUDIENCE: 'same' }, 'JWT_AUDIENCE'],
    ['JWT_AUDIENCE equal to the default issuer', { JWT_AUDIENCE: 'tessera' }, 'JWT_AUDIENCE'],
    ['PORT abc', { PORT: 'abc' }, 'PORT'],
    ['PORT 70000', { PORT: '70000' }, 'PORT'],
    ['ACCESS_TOKEN_TTL 15x', { ACCESS_TOKEN_TTL: '15x' }, 'ACCESS_TOKEN_TTL'],
    ['ACCESS_TOKEN_TTL 0', { ACCESS_TOKEN_TTL: '0' }, 'ACCESS_TOKEN_TTL'],
    ['ACCESS_TOKEN_TTL negative', { ACCESS_TOKEN_TTL: '-5m' }, 'ACCESS_TOKEN_TTL'],
    ['REFRESH_TOKEN_TTL 1.5d', { REFRESH_TOKEN_TTL: '1.5d' }, 'REFRESH_TOKEN_TTL'],
    ['PASSWORD_MIN_LENGTH 7', { PASSWORD_MIN_LENGTH: '7' }, 'PASSWORD_MIN_LENGTH'],
    ['JWT_ALG none', { JWT_ALG: 'none' }, 'JWT_ALG'],
    ['JWT_ALG HS512', { JWT_ALG: 'HS512' }, 'JWT_ALG'],
    ['JWT_ALG lower-case eddsa', { JWT_ALG: 'eddsa' }, 'JWT_ALG'],
    ['JWT_VERIFY_CACHE negative', { JWT_VERIFY_CACHE: '-1' }, 'JWT_VERIFY_CACHE']
  ]
  for (const [name, env, variable] of cases) {
    const message = refusal(env)
    t.ok(message.includes(variable), `${name}: names ${variable} in "${message}"`)
  }
})

t.test('a refused secret is not echoed in the message', async (t) => {
  const secret = 'do-not-print-me-31-bytes-long!!'
  t.equal(Buffer.byteLength(secret), 31)
  t.notOk(refusal({ JWT_ALG: 'HS256', JWT_SECRET: secret }).includes(secret))
})

t.test('every problem is reported at once, not only the first', async (t) => {
  const message = refusal({ CLOCK_TOLERANCE: '6m', JWT_ISSUER: 'x', JWT_AUDIENCE: 'x', JWT_SECRET: SECRET_32 })
  for (const variable of ['CLOCK_TOLERANCE', 'JWT_AUDIENCE', 'JWT_SECRET']) t.ok(message.includes(variable), variable)
})

t.test('the boundaries themselves are accepted', async (t) => {
  t.equal(loadConfig({ JWT_ALG: 'HS256', JWT_SECRET: SECRET_32 }).jwt.secret, SECRET_32, 'a 32-byte secret')
  t.equal(loadConfig({ CLOCK_TOLERANCE: '5m' }).jwt.clockTolerance, 300, 'CLOCK_TOLERANCE 5m')
  t.equal(loadConfig({ PASSWORD_MIN_LENGTH: '8' }).password.minLength, 8)
  t.equal(loadConfig({ JWT_VERIFY_CACHE: '0' }).jwt.verifyCacheSize, 0, 'the cache can be disabled')
})

t.test('durations: seconds or a unit suffix', async (t) => {
  const cases: Array<[string, number]> = [['900', 900], ['15m', 900], ['12h', 43_200], ['30d', 2_592_000], ['30s', 30]]
  for (const [text, seconds] of cases) {
    t.equal(parseDuration(text), seconds, `parseDuration(${text})`)
    t.equal(loadConfig({ ACCESS_TOKEN_TTL: text }).jwt.accessTtl, seconds, `ACCESS_TOKEN_TTL=${text}`)
  }
  const c = loadConfig({ REFRESH_TOKEN_TTL: '12h', SESSION_MAX_AGE: '30d', JWKS_MAX_AGE: '900', CLOCK_TOLERANCE: '1m' })
  t.match(c.jwt, { refreshTtl: 43_200, sessionMaxAge: 2_592_000, jwksMaxAge: 900, clockTolerance: 60 })
  for (const bad of ['15x', '1.5h', '-1', '', 'm', '15 minutes']) t.throws(() => parseDuration(bad), RangeError, bad)
})

/** Every `# NAME=value` line of .env.example. */
function documentedValues (): Array<[string, string]> {
  const text = readFileSync(path.join(__dirname, '..', '.env.example'), 'utf8')
  return [...text.matchAll(/^# ([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m): [string, string] => [m[1], m[2]])
}

// Settings without a default: .env.example shows an example (or nothing) for them.
const EXAMPLES_ONLY = new Set(['JWT_SECRET', 'JWT_PRIVATE_KEY', 'REDIS_URL', 'SMTP_URL', 'CORS_ORIGINS', 'EXTERNAL_URL', 'DPOP_NONCE_SECRET', 'METRICS_PORT'])

t.test('.env.example shows the built-in defaults: uncommenting any of its lines changes nothing', async (t) => {
  const defaults = loadConfig({})
  const documented = documentedValues().filter(([name]) => !EXAMPLES_ONLY.has(name))
  t.ok(documented.length > 30, `${documented.length} settings with a default`)
  for (const [name, value] of documented) t.same(loadConfig({ [name]: value }), defaults, `${name}=${value}`)
  t.same(loadConfig(Object.fromEntries(documented)), defaults, 'all of them at once')
  // And the examples do change something (else they belong in the list above).
  for (const [name, value] of documentedValues().filter(([n, v]) => EXAMPLES_ONLY.has(n) && v !== '' && !v.includes('...'))) {
    t.not(JSON.stringify(loadConfig({ [name]: value })), JSON.stringify(defaults), `${name}: an example, not the default`)
  }
})

t.test('finding 7: TRUST_PROXY=true, hop counts and unparsable entries are refused, naming what works', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['true: every client picks its own address', 'true', /TRUST_PROXY: true .*addresses or CIDRs of your proxies/],
    ['a hop count: Fastify ignores it', '1', /TRUST_PROXY: a hop count .*addresses or CIDRs of your proxies/],
    ['every IPv4 address', '0.0.0.0/0', /TRUST_PROXY: a \/0 range trusts every address/],
    ['every IPv6 address, in a list', '10.0.0.5, ::/0', /TRUST_PROXY: a \/0 range/],
    ['a host name and a bad prefix', 'proxy.internal,10.0.0.0/33', /TRUST_PROXY: not an IP address, CIDR .*"proxy.internal", "10.0.0.0\/33"/]
  ]
  for (const [name, value, message] of cases) t.match(refusal({ TRUST_PROXY: value }), message, name)
  t.equal(loadConfig({ TRUST_PROXY: '10.0.1.0/24, loopback, 2001:db8::5' }).trustProxy, '10.0.1.0/24,loopback,2001:db8::5')
  t.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, false, 'no hops is no proxy')
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
})

t.test('DPoP settings: optional by default, bounded proof age, a real nonce secret, a plain EXTERNAL_URL', async (t) => {
  t.same(loadConfig({}).dpop, { mode: 'optional', maxAge: 60, nonce: false, nonceSecret: undefined, replayCache: 100_000 })
  t.equal(loadConfig({}).externalUrl, undefined)
  t.equal(loadConfig({ DPOP: 'required', DPOP_PROOF_MAX_AGE: '2m' }).dpop.maxAge, 120)
  t.match(refusal({ DPOP: 'maybe' }), /DPOP/)
  t.match(refusal({ DPOP_PROOF_MAX_AGE: '10m' }), /DPOP_PROOF_MAX_AGE: must be between 1 s and 5m/)
  t.match(refusal({ DPOP_PROOF_MAX_AGE: '0' }), /DPOP_PROOF_MAX_AGE/)
  t.match(refusal({ DPOP_NONCE: 'on', DPOP_NONCE_SECRET: 'short' }), /DPOP_NONCE_SECRET: must be at least 32 bytes/)
  t.match(refusal({ DPOP_REPLAY_CACHE: '10' }), /DPOP_REPLAY_CACHE/)
  t.equal(loadConfig({ EXTERNAL_URL: 'https://auth.example.com/api/' }).externalUrl?.href, 'https://auth.example.com/api')
  t.match(refusal({ EXTERNAL_URL: 'https://auth.example.com/?x=1' }), /EXTERNAL_URL: give scheme, host and an optional path prefix only/)
  t.match(refusal({ EXTERNAL_URL: 'https://user:pw@auth.example.com' }), /EXTERNAL_URL/)
  t.match(refusal({ EXTERNAL_URL: 'ftp://auth.example.com' }), /EXTERNAL_URL/)
})

t.test('unknown variables in the environment are ignored, not refused', async (t) => {
  t.equal(loadConfig({ PATH: '/usr/bin', SOMETHING_ELSE: 'x' }).port, 3000)
})

t.test('./.env fills in what the environment leaves unset, and never overrides it', async (t) => {
  const dir = t.testdir({ '.env': 'PORT=4100\nJWT_ISSUER=from-dotenv\nNOT_A_SETTING=x\n' })
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  const c = loadConfig({ JWT_ISSUER: 'from-env' }, { dotenv: true })
  t.equal(c.port, 4100, 'PORT from .env')
  t.equal(c.jwt.issuer, 'from-env', 'the environment wins')
  t.equal(loadConfig({}, { dotenv: false }).port, 3000, 'not read unless asked')
  t.match(refusalIn(() => loadConfig({ PORT: '70000' }, { dotenv: true })), /PORT/)
})

t.test('a setting that is one of a few words names them when refused', async (t) => {
  t.match(refusal({ JWT_ALG: 'none' }), /JWT_ALG: must be one of EdDSA, ES256, RS256, HS256/)
  t.match(refusal({ RATE_LIMIT: 'yes' }), /RATE_LIMIT: must be one of on, off/)
})

function refusalIn (load: () => unknown): string {
  try {
    load()
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('accepted')
}
