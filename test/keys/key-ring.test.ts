// KeyRing without I/O: which key is pending, signing, verify-only, expired or retired at each instant,
// which one signs, which verify and which are published. Table-driven over an injected ManualClock.
import t from 'tap'
import { ManualClock } from '../../src/clock'
import type { JwtAlg, SigningKey } from '../../src/keys/key'
import { verifyGraceMs } from '../../src/keys/key-provider'
import { KeyRing, type KeyState } from '../../src/keys/key-ring'
import { START, testConfig } from '../support/app'

const S = 1000
const M = 60 * S
const H = 60 * M
/** REFRESH_TOKEN_TTL 1h + CLOCK_TOLERANCE 30s. */
const GRACE = H + 30 * S

/** A key with fake material: the ring only reads the metadata and the public JWK. */
function key (kid: string, signsFrom: number, extra: { retiredAt?: number, createdAt?: number, alg?: JwtAlg } = {}): SigningKey {
  const alg = extra.alg ?? 'EdDSA'
  return {
    kid,
    alg,
    createdAt: extra.createdAt ?? Math.min(signsFrom, START),
    signsFrom,
    retiredAt: extra.retiredAt ?? null,
    privateKey: `private-${kid}`,
    verifyKey: `public-${kid}`,
    jwk: alg === 'HS256' ? null : { kty: 'OKP', crv: 'Ed25519', x: kid, kid, alg, use: 'sig' }
  }
}

interface Expectation {
  at: number
  states: Record<string, KeyState>
  /** kid of the signing key, or null when none signs (signingKey() throws). */
  signs: string | null
  /** kids published in the JWKS, in ring order. */
  published: string[]
}

interface Scenario {
  name: string
  keys: SigningKey[]
  at: Expectation[]
}

const scenarios: Scenario[] = [
  {
    name: 'a single key signs from its signsFrom on, forever',
    keys: [key('A', START)],
    at: [
      { at: START - 1, states: { A: 'pending' }, signs: null, published: ['A'] },
      { at: START, states: { A: 'signing' }, signs: 'A', published: ['A'] },
      { at: START + 365 * 24 * H, states: { A: 'signing' }, signs: 'A', published: ['A'] }
    ]
  },
  {
    name: 'rotation: the new key is published at once, signs after JWKS_MAX_AGE; the old one verifies for the grace, then expires',
    keys: [key('A', START), key('B', START + 10 * M, { createdAt: START })],
    at: [
      { at: START, states: { A: 'signing', B: 'pending' }, signs: 'A', published: ['A', 'B'] },
      { at: START + 10 * M - 1, states: { A: 'signing', B: 'pending' }, signs: 'A', published: ['A', 'B'] },
      { at: START + 10 * M, states: { A: 'verify-only', B: 'signing' }, signs: 'B', published: ['A', 'B'] },
      { at: START + 10 * M + GRACE - 1, states: { A: 'verify-only', B: 'signing' }, signs: 'B', published: ['A', 'B'] },
      { at: START + 10 * M + GRACE, states: { A: 'expired', B: 'signing' }, signs: 'B', published: ['B'] }
    ]
  },
  {
    name: 'two rotations: each key is superseded by the signsFrom of the next one',
    keys: [key('A', START), key('B', START + 10 * M), key('C', START + 2 * H)],
    at: [
      { at: START + 20 * M, states: { A: 'verify-only', B: 'signing', C: 'pending' }, signs: 'B', published: ['A', 'B', 'C'] },
      { at: START + 2 * H, states: { A: 'expired', B: 'verify-only', C: 'signing' }, signs: 'C', published: ['B', 'C'] },
      { at: START + 2 * H + GRACE - 1, states: { A: 'expired', B: 'verify-only', C: 'signing' }, signs: 'C', published: ['B', 'C'] },
      { at: START + 2 * H + GRACE, states: { A: 'expired', B: 'expired', C: 'signing' }, signs: 'C', published: ['C'] }
    ]
  },
  {
    name: 'retired: from retiredAt on the key neither signs, verifies nor is published',
    keys: [key('A', START, { retiredAt: START + 5 * M })],
    at: [
      { at: START + 5 * M - 1, states: { A: 'signing' }, signs: 'A', published: ['A'] },
      { at: START + 5 * M, states: { A: 'retired' }, signs: null, published: [] }
    ]
  },
  {
    name: 'retiring the only signer with a replacement that signs at once (keys retire)',
    keys: [key('A', START, { retiredAt: START + 5 * M }), key('R', START + 5 * M, { createdAt: START + 5 * M })],
    at: [
      { at: START + 5 * M, states: { A: 'retired', R: 'signing' }, signs: 'R', published: ['R'] },
      { at: START + 5 * M + 2 * GRACE, states: { A: 'retired', R: 'signing' }, signs: 'R', published: ['R'] }
    ]
  },
  {
    name: 'a key retired while pending never signed: it does not supersede the key before it',
    keys: [key('A', START), key('B', START + 10 * M, { retiredAt: START + 5 * M })],
    at: [
      { at: START + 4 * M, states: { A: 'signing', B: 'pending' }, signs: 'A', published: ['A', 'B'] },
      { at: START + 5 * M, states: { A: 'signing', B: 'retired' }, signs: 'A', published: ['A'] },
      { at: START + 10 * M + GRACE, states: { A: 'signing', B: 'retired' }, signs: 'A', published: ['A'] }
    ]
  },
  {
    name: 'a retired successor that did sign still superseded its predecessor (no resurrection)',
    keys: [key('A', START), key('B', START + 10 * M, { retiredAt: START + 30 * M }), key('R', START + 30 * M)],
    at: [
      { at: START + 30 * M, states: { A: 'verify-only', B: 'retired', R: 'signing' }, signs: 'R', published: ['A', 'R'] },
      { at: START + 10 * M + GRACE, states: { A: 'expired', B: 'retired', R: 'signing' }, signs: 'R', published: ['R'] }
    ]
  },
  {
    name: 'the ring orders keys by signsFrom whatever the input order',
    keys: [key('C', START + 2 * H), key('A', START), key('B', START + 10 * M)],
    at: [
      { at: START + H, states: { A: 'verify-only', B: 'signing', C: 'pending' }, signs: 'B', published: ['A', 'B', 'C'] }
    ]
  },
  {
    name: 'an HS256 key signs and verifies but is never published',
    keys: [key('hs-1', 0, { alg: 'HS256' })],
    at: [
      { at: START, states: { 'hs-1': 'signing' }, signs: 'hs-1', published: [] }
    ]
  }
]

for (const scenario of scenarios) {
  t.test(scenario.name, async (t) => {
    const clock = new ManualClock(START)
    const ring = new KeyRing(scenario.keys, { clock, verifyGraceMs: GRACE })
    for (const e of scenario.at) {
      const when = `at START${e.at >= START ? '+' : ''}${(e.at - START) / 1000}s`
      clock.set(e.at)
      for (const [kid, state] of Object.entries(e.states)) {
        const k = ring.keys.find((x) => x.kid === kid)
        if (k === undefined) throw new Error(`no key ${kid}`)
        t.equal(ring.state(k), state, `${when}: ${kid} is ${state}`)
        t.equal(ring.state(k, e.at), state, `${when}: ${kid} is ${state} (explicit now)`)
        const verifies = state !== 'retired' && state !== 'expired'
        t.equal(ring.verificationKey(kid, k.alg)?.kid, verifies ? kid : undefined, `${when}: ${kid} ${verifies ? 'verifies' : 'does not verify'}`)
      }
      if (e.signs === null) {
        t.throws(() => ring.signingKey(), /no signing key is active/, `${when}: nothing signs`)
      } else {
        t.equal(ring.signingKey().kid, e.signs, `${when}: ${e.signs} signs`)
        t.equal(Object.values(e.states).filter((s) => s === 'signing').length, 1, `${when}: exactly one key is signing`)
      }
      t.same(ring.jwks().map((j) => j.kid), e.published, `${when}: JWKS ${e.published.join(',') || '(empty)'}`)
    }
  })
}

t.test('verificationKey pins the algorithm to the key named by kid', async (t) => {
  const clock = new ManualClock(START)
  const ring = new KeyRing([key('A', START), key('R', START, { alg: 'RS256' })], { clock, verifyGraceMs: GRACE })
  t.equal(ring.verificationKey('A', 'EdDSA')?.kid, 'A')
  const refused: Array<[unknown, unknown, string]> = [
    ['A', 'RS256', 'another asymmetric alg'],
    ['A', 'HS256', 'HS256 with an asymmetric key (alg confusion)'],
    ['A', 'none', 'none'],
    ['A', 'eddsa', 'case variant of the alg'],
    ['R', 'EdDSA', "the other key's alg"],
    ['nope', 'EdDSA', 'unknown kid'],
    [undefined, 'EdDSA', 'no kid'],
    ['A', undefined, 'no alg'],
    [42, 'EdDSA', 'kid not a string'],
    [['A'], 'EdDSA', 'kid an array'],
    ['A', ['EdDSA'], 'alg an array']
  ]
  for (const [kid, alg, why] of refused) t.equal(ring.verificationKey(kid, alg), undefined, `refused: ${why}`)
})

t.test('the verify grace is the longest token lifetime plus the clock tolerance', async (t) => {
  const cases: Array<[Record<string, string>, number]> = [
    [{}, (30 * 24 * 3600 + 30) * 1000],
    [{ REFRESH_TOKEN_TTL: '1h', VERIFY_TOKEN_TTL: '1h', CLOCK_TOLERANCE: '30s' }, GRACE],
    [{ ACCESS_TOKEN_TTL: '2h', REFRESH_TOKEN_TTL: '1h', VERIFY_TOKEN_TTL: '1h', CLOCK_TOLERANCE: '5m' }, (2 * 3600 + 300) * 1000],
    // Emailed links are signed by the same keys: a verification link outliving the refresh token sets the grace.
    [{ REFRESH_TOKEN_TTL: '1h', VERIFY_TOKEN_TTL: '3d', CLOCK_TOLERANCE: '30s' }, (3 * 86_400 + 30) * 1000],
    [{ REFRESH_TOKEN_TTL: '10m', RESET_TOKEN_TTL: '45m', VERIFY_TOKEN_TTL: '20m', CLOCK_TOLERANCE: '30s' }, (45 * 60 + 30) * 1000]
  ]
  for (const [env, expected] of cases) t.equal(verifyGraceMs(testConfig(env).jwt), expected, JSON.stringify(env))
})
