// The forged-token table, run against every kind of token at the route that reads it (whoami, refresh, password reset,
// email verification): every row refused with that kind's own problem, no library code or claim echoed; and respelled tokens.
import { createHmac, generateKeyPairSync, sign } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test as Tap } from 'tap'
import type { UserRecord } from '../../src/store/user-store'
import { RESET_TYP, VERIFY_TYP, REFRESH_TYP, ACCESS_TYP, resetAudience, verifyAudience } from '../../src/tokens/claims'
import { LinkTokenIssuer, passwordFingerprint } from '../../src/tokens/link-tokens'
import type { TokenKind } from '../../src/tokens/token-kinds'
import { assertProblem, bearer, build, makeKey, register, type TestContext } from '../support/app'

type Json = Record<string, unknown> | unknown[] | string
/** Signs the JWS signing input `b64(header).b64(payload)`; returns the base64url signature ('' for none). */
type Signer = (input: string) => string
type Response = Awaited<ReturnType<TestContext['app']['inject']>>

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url')
/** Objects are JSON-encoded; a string is taken as the raw segment text (not-JSON, duplicate keys…). */
const segment = (part: Json): string => b64(typeof part === 'string' ? part : JSON.stringify(part))

/** A compact JWS built by hand, so nothing in the library under test can normalise it first. */
function forge (header: Json, payload: Json, signer: Signer): string {
  const input = `${segment(header)}.${segment(payload)}`
  return `${input}.${signer(input)}`
}

const eddsa = (privateKeyPem: string): Signer => (input) => sign(null, Buffer.from(input), privateKeyPem).toString('base64url')
const hs256 = (secret: string | Buffer): Signer => (input) => createHmac('sha256', secret).update(input).digest('base64url')
const es256 = (privateKeyPem: string): Signer => (input) =>
  sign('sha256', Buffer.from(input), { key: privateKeyPem, dsaEncoding: 'ieee-p1363' }).toString('base64url')
const unsigned: Signer = () => ''

/** A distinctive value, so "the body echoes no claim value" is a meaningful check. */
const JTI = 'jti-canary-41d2e8'
const NEW_PASSWORD = 'a brand new passphrase for alice'

const nowSeconds = (ctx: TestContext): number => Math.floor(ctx.clock.now() / 1000)

/** What a row expects: refused as invalid, as expired, or (over 4,096 characters) before the verifier by the route's own limit. */
type Expect = 'invalid' | 'expired' | 'oversized'

/** One kind of token: how a good one looks, where it is presented, and the answers. */
interface Kind {
  name: TokenKind
  typ: string
  audience: (ctx: TestContext) => string
  /** The claims of this kind besides iss, aud, iat, exp and jti, for the account `user`. */
  own: (ctx: TestContext, user: UserRecord) => Record<string, unknown>
  /** A claim only this kind carries, and a value of it the claims schema refuses. */
  ownClaim: [name: string, bad: unknown]
  present: (ctx: TestContext, token: string) => Promise<Response>
  /** The status of a good token at that route. */
  accepted: number
  refused: Record<Expect, { status: number, code: string }>
  /** Access tokens travel in Authorization, so their refusals carry an RFC 6750 challenge; body tokens none. */
  challenge: boolean
}

const post = (url: string, extra: Record<string, unknown> = {}) => (ctx: TestContext, token: string): Promise<Response> =>
  ctx.app.inject({ method: 'POST', url, payload: { token, ...extra } })
/** Body tokens over 4,096 characters stop at the route's schema, before any token check. */
const OVERSIZED_BODY = { status: 400, code: 'ERR_VALIDATION' }

const KINDS: Kind[] = [
  {
    name: 'access',
    typ: ACCESS_TYP,
    audience: (ctx) => ctx.config.jwt.audience,
    own: () => ({ role: 'user' }),
    ownClaim: ['role', 'superuser'],
    present: (ctx, token) => ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(token) }),
    accepted: 200,
    refused: {
      invalid: { status: 401, code: 'ERR_TOKEN_INVALID' },
      expired: { status: 401, code: 'ERR_TOKEN_EXPIRED' },
      oversized: { status: 401, code: 'ERR_TOKEN_INVALID' }
    },
    challenge: true
  },
  {
    name: 'refresh',
    typ: REFRESH_TYP,
    audience: (ctx) => ctx.config.jwt.issuer,
    own: (ctx, user) => ({ ver: user.tokenVersion, auth_time: nowSeconds(ctx) }),
    ownClaim: ['ver', -1],
    present: (ctx, token) => ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: token } }),
    accepted: 200,
    refused: {
      invalid: { status: 401, code: 'ERR_REFRESH_TOKEN_INVALID' },
      expired: { status: 401, code: 'ERR_REFRESH_TOKEN_EXPIRED' },
      oversized: OVERSIZED_BODY
    },
    challenge: false
  },
  {
    name: 'reset',
    typ: RESET_TYP,
    audience: (ctx) => resetAudience(ctx.config.jwt.issuer),
    own: (_ctx, user) => ({ ver: user.tokenVersion, pwd: passwordFingerprint(user.passwordHash) }),
    ownClaim: ['pwd', 'too-short'],
    present: post('/v1/auth/password/reset', { newPassword: NEW_PASSWORD }),
    accepted: 204,
    refused: {
      invalid: { status: 400, code: 'ERR_RESET_TOKEN_INVALID' },
      expired: { status: 400, code: 'ERR_RESET_TOKEN_EXPIRED' },
      oversized: OVERSIZED_BODY
    },
    challenge: false
  },
  {
    name: 'verify',
    typ: VERIFY_TYP,
    audience: (ctx) => verifyAudience(ctx.config.jwt.issuer),
    own: (_ctx, user) => ({ email: user.email }),
    ownClaim: ['email', 42],
    present: post('/v1/auth/email/verify'),
    accepted: 204,
    refused: {
      invalid: { status: 400, code: 'ERR_VERIFY_TOKEN_INVALID' },
      expired: { status: 400, code: 'ERR_VERIFY_TOKEN_EXPIRED' },
      oversized: OVERSIZED_BODY
    },
    challenge: false
  }
]

/** The kind after `kind` in the table: a token of another kind that must not pass for this one. */
const otherKind = (kind: Kind): Kind => KINDS[(KINDS.indexOf(kind) + 1) % KINDS.length]

/**
 * An app, a registered account and the kind under test. Good tokens name the real account with its current
 * version, password fingerprint and address, so a forgery can only fail for what it forges: a row that slipped
 * past the verifier would reach the route and succeed, and the baseline run after the table shows the account is
 * still in that state.
 */
interface Target extends TestContext {
  kind: Kind
  user: UserRecord
}

async function target (t: Tap, kind: Kind): Promise<Target> {
  const ctx = await build(t)
  const { user: { id } } = await register(ctx.app)
  const user = await ctx.store.findById(id)
  if (user === null) throw new Error('registered user not found')
  return { ...ctx, kind, user }
}

function header (ctx: Target, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: 'EdDSA', typ: ctx.kind.typ, kid: ctx.key.kid, ...extra }
}

function claims (ctx: Target, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds(ctx)
  return {
    iss: ctx.config.jwt.issuer, aud: ctx.kind.audience(ctx), sub: ctx.user.id, ...ctx.kind.own(ctx, ctx.user), iat: now, exp: now + 900, jti: JTI, ...extra
  }
}

/** A real token of another kind, issued by Tessera itself for the same account. */
async function realTokenOfAnotherKind (ctx: Target): Promise<string> {
  const links = new LinkTokenIssuer(() => ctx.keys.ring(), { issuer: ctx.config.jwt.issuer, resetTtl: 600, verifyTtl: 600 }, ctx.clock)
  switch (otherKind(ctx.kind).name) {
    case 'access': return (await register(ctx.app, 'another-account@example.com')).accessToken
    case 'refresh': return (await register(ctx.app, 'another-account@example.com')).refreshToken
    case 'reset': return links.signReset(ctx.user).token
    case 'verify': return links.signVerification(ctx.user).token
    case 'mfa': throw new Error('the table has no mfa row: test/mfa covers mfaTokens')
  }
}

const without = (o: Record<string, unknown>, key: string): Record<string, unknown> => {
  const copy = { ...o }
  delete copy[key]
  return copy
}

/** The right key, header and claims: the baseline every forgery deviates from. */
const good = (ctx: Target, h: Record<string, unknown> = {}, c: Record<string, unknown> = {}): string =>
  forge(header(ctx, h), claims(ctx, c), eddsa(ctx.key.privateKey))

/** Every string (and number, as text) in a JSON value, for the no-echo check. */
function leaves (value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value)
  else if (typeof value === 'number') out.push(String(value))
  else if (Array.isArray(value)) for (const v of value) leaves(v, out)
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) leaves(v, out)
  return out
}

function decodeSegment (s: string | undefined): unknown {
  try { return JSON.parse(Buffer.from(s ?? '', 'base64url').toString('utf8')) } catch { return undefined }
}

/** Claim and header values that must never come back: long enough not to collide with our own wording. */
function canaries (ctx: TestContext, token: string): string[] {
  const [h, p] = token.split('.')
  // The issuer is part of our problem type URI (urn:tessera:…): not an echo.
  const ours = new Set([ctx.config.jwt.issuer, 'EdDSA'])
  return [...leaves(decodeSegment(h)), ...leaves(decodeSegment(p))].filter((v) => v.length >= 6 && !ours.has(v))
}

/** A server that counts every request made to it: the target of jku / x5u. Tessera must never call it. */
async function trap (t: Tap): Promise<{ url: string, hits: () => number }> {
  let hits = 0
  const server: Server = createServer((_req, res) => { hits++; res.end('{"keys":[]}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/jwks.json`, hits: () => hits }
}

interface Row {
  name: string
  /** Why it must fail: the RFC 8725 / RFC 7519 / RFC 7515 / OWASP section. */
  ref: string
  token: (ctx: Target) => string | Promise<string>
  expect?: Expect
}

const attacker = generateKeyPairSync('ed25519')
const attackerPem = attacker.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker' }
// Not a real certificate: x5c is not read at all, so the attacker's SPKI in its place is enough to show it is ignored.
const attackerX5c = [attacker.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')]
const es256Pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
const otherKey = makeKey()

const rows = (kind: Kind): Row[] => [
  // --- alg none (RFC 8725 §2.1 and §3.1; RFC 7518 §3.6; OWASP JWT Cheat Sheet "None Hashing Algorithm")
  ...['none', 'None', 'NONE'].map((alg): Row => ({
    name: `alg ${alg}, empty signature`,
    ref: 'RFC 8725 §2.1/§3.1; OWASP JWT Cheat Sheet "None Hashing Algorithm"',
    token: (ctx) => forge(header(ctx, { alg }), claims(ctx), unsigned)
  })),
  {
    name: 'alg none with the kid omitted',
    ref: 'RFC 8725 §3.1',
    token: (ctx) => forge(without(header(ctx, { alg: 'none' }), 'kid'), claims(ctx), unsigned)
  },

  // --- HS/asymmetric confusion (RFC 8725 §2.1, §3.1 "Perform Algorithm Verification"; OWASP WSTG-SESS-10 "HMAC vs Public Key Confusion")
  {
    name: 'HS256 MAC keyed with the public key PEM text',
    ref: 'RFC 8725 §2.1/§3.1; OWASP WSTG-SESS-10 "HMAC vs Public Key Confusion"',
    token: (ctx) => forge(header(ctx, { alg: 'HS256' }), claims(ctx), hs256(ctx.key.verifyKey))
  },
  {
    name: 'HS256 MAC keyed with the public JWK JSON text',
    ref: 'RFC 8725 §3.1',
    token: (ctx) => forge(header(ctx, { alg: 'HS256' }), claims(ctx), hs256(JSON.stringify(ctx.key.jwk)))
  },
  {
    name: 'HS256 MAC keyed with an empty key',
    ref: 'RFC 8725 §3.1, §3.5 (sufficient key entropy)',
    token: (ctx) => forge(header(ctx, { alg: 'HS256' }), claims(ctx), hs256(Buffer.alloc(0)))
  },
  {
    name: 'alg mismatch: our kid, alg ES256, signed by another ES256 key',
    ref: 'RFC 8725 §3.1 (each key used with exactly one algorithm)',
    token: (ctx) => forge(header(ctx, { alg: 'ES256' }), claims(ctx), es256(es256Pem))
  },

  // --- explicit typing (RFC 8725 §3.11; RFC 9068 §2.1/§4; RFC 7515 §4.1.9)
  {
    name: 'typ JWT',
    ref: 'RFC 8725 §3.11; RFC 9068 §4 (typ must be at+jwt)',
    token: (ctx) => good(ctx, { typ: 'JWT' })
  },
  {
    name: `typ ${otherKind(kind).typ} (another kind's header on ${kind.name} claims)`,
    ref: 'RFC 8725 §3.11, §3.12',
    token: (ctx) => good(ctx, { typ: otherKind(kind).typ })
  },
  {
    name: 'typ missing',
    ref: 'RFC 8725 §3.11',
    token: (ctx) => forge(without(header(ctx), 'typ'), claims(ctx), eddsa(ctx.key.privateKey))
  },
  {
    name: `a real ${otherKind(kind).name} token, issued by Tessera, used as a ${kind.name} token`,
    ref: 'RFC 8725 §2.8 (cross-JWT confusion), §3.12; DESIGN "never accepted as … vice versa"',
    token: realTokenOfAnotherKind
  },

  // --- issuer and audience (RFC 7519 §4.1.1, §4.1.3, §7.2; RFC 8725 §3.8, §3.9)
  {
    name: 'wrong iss',
    ref: 'RFC 8725 §3.8; RFC 7519 §4.1.1',
    token: (ctx) => good(ctx, {}, { iss: 'https://evil-issuer.example' })
  },
  {
    name: 'iss as an array holding the right issuer',
    ref: 'RFC 7519 §4.1.1 (iss is a StringOrURI, not an array)',
    token: (ctx) => good(ctx, {}, { iss: [ctx.config.jwt.issuer, 'evil-issuer'] })
  },
  {
    name: 'wrong aud',
    ref: 'RFC 8725 §3.9; RFC 7519 §4.1.3',
    token: (ctx) => good(ctx, {}, { aud: 'some-other-api' })
  },
  {
    name: `aud of the ${otherKind(kind).name} kind`,
    ref: 'RFC 8725 §3.12 (mutually exclusive validation rules)',
    token: (ctx) => good(ctx, {}, { aud: otherKind(kind).audience(ctx) })
  },
  {
    // fast-jwt accepts an array containing the audience (RFC 7519 §4.1.3 allows arrays in general); Tessera's
    // claim schema only takes the single string it issues, so a token minted for several audiences is refused.
    name: 'aud array containing the good audience among bad ones',
    ref: 'RFC 7519 §4.1.3; RFC 8725 §3.9',
    token: (ctx) => good(ctx, {}, { aud: ['evil-audience', ctx.config.jwt.audience, 'other-audience'] })
  },

  // --- time claims (RFC 7519 §4.1.4-§4.1.6; the tolerance is CLOCK_TOLERANCE = 30 s)
  {
    name: 'expired 31 s ago (beyond the 30 s tolerance)',
    ref: 'RFC 7519 §4.1.4',
    token: (ctx) => good(ctx, {}, { iat: nowSeconds(ctx) - 931, exp: nowSeconds(ctx) - 31 }),
    expect: 'expired'
  },
  {
    name: 'expired an hour ago',
    ref: 'RFC 7519 §4.1.4',
    token: (ctx) => good(ctx, {}, { iat: nowSeconds(ctx) - 4500, exp: nowSeconds(ctx) - 3600 }),
    expect: 'expired'
  },
  {
    name: 'nbf 31 s in the future (beyond tolerance)',
    ref: 'RFC 7519 §4.1.5',
    token: (ctx) => good(ctx, {}, { nbf: nowSeconds(ctx) + 31 })
  },
  {
    name: 'iat 31 s in the future (beyond tolerance)',
    ref: 'RFC 7519 §4.1.6; RFC 8725 §3.10 (do not trust received claims)',
    token: (ctx) => good(ctx, {}, { iat: nowSeconds(ctx) + 31, exp: nowSeconds(ctx) + 931 })
  },
  {
    name: 'exp missing',
    ref: 'RFC 7519 §4.1.4; DESIGN "requires exp"',
    token: (ctx) => good(ctx, {}, { exp: undefined })
  },
  {
    name: 'exp as a numeric string',
    ref: 'RFC 7519 §2 (NumericDate is a JSON number), §4.1.4',
    token: (ctx) => good(ctx, {}, { exp: String(nowSeconds(ctx) + 900) })
  },
  {
    name: 'exp 1e400 (JSON.parse gives Infinity)',
    ref: 'RFC 7519 §2 NumericDate',
    token: (ctx) => forge(header(ctx), JSON.stringify(claims(ctx)).replace(/"exp":\d+/, '"exp":1e400'), eddsa(ctx.key.privateKey))
  },
  {
    name: 'exp "Infinity"',
    ref: 'RFC 7519 §2 NumericDate',
    token: (ctx) => good(ctx, {}, { exp: 'Infinity' })
  },
  {
    name: 'exp beyond year 9999 (1e15)',
    ref: 'RFC 7519 §2 NumericDate',
    token: (ctx) => good(ctx, {}, { exp: 1e15 })
  },
  {
    name: 'exp negative',
    ref: 'RFC 7519 §2 NumericDate',
    token: (ctx) => good(ctx, {}, { exp: -1 }),
    // A negative exp fails the claim schema before the time check: invalid, not merely expired.
    expect: 'invalid'
  },
  {
    name: 'exp fractional',
    ref: 'Tessera issues integer NumericDates; the schema accepts only those',
    token: (ctx) => good(ctx, {}, { exp: nowSeconds(ctx) + 900.5 })
  },

  // --- subject and role (RFC 7519 §4.1.2; RFC 8725 §3.8, §3.10)
  {
    name: 'sub missing',
    ref: 'RFC 7519 §4.1.2; RFC 9068 §2.2 (sub required)',
    token: (ctx) => good(ctx, {}, { sub: undefined })
  },
  {
    name: 'sub as a number',
    ref: 'RFC 7519 §4.1.2 (StringOrURI)',
    token: (ctx) => good(ctx, {}, { sub: 12345678 })
  },
  {
    name: 'sub empty',
    ref: 'RFC 7519 §4.1.2',
    token: (ctx) => good(ctx, {}, { sub: '' })
  },
  {
    name: `${kind.ownClaim[0]} ${JSON.stringify(kind.ownClaim[1])} (a claim of this kind, outside its schema)`,
    ref: 'RFC 8725 §3.10 (do not trust received claims beyond the schema)',
    token: (ctx) => good(ctx, {}, { [kind.ownClaim[0]]: kind.ownClaim[1] })
  },
  {
    name: `${kind.ownClaim[0]} missing`,
    ref: 'RFC 8725 §3.10',
    token: (ctx) => good(ctx, {}, { [kind.ownClaim[0]]: undefined })
  },
  {
    name: 'jti missing',
    ref: 'RFC 9068 §2.2 (jti required)',
    token: (ctx) => good(ctx, {}, { jti: undefined })
  },

  // --- kid (RFC 7515 §4.1.4; RFC 8725 §3.10 "kid … SQL or LDAP injection, directory traversal"; OWASP WSTG-SESS-10)
  {
    name: 'unknown kid, signed by that unknown key',
    ref: 'RFC 7515 §4.1.4; RFC 8725 §3.10',
    token: (ctx) => forge(header(ctx, { kid: otherKey.kid }), claims(ctx), eddsa(otherKey.privateKey))
  },
  {
    name: 'kid missing',
    ref: 'RFC 7515 §4.1.4 (Tessera always sets kid and looks keys up only by it)',
    token: (ctx) => forge(without(header(ctx), 'kid'), claims(ctx), eddsa(ctx.key.privateKey))
  },
  {
    name: 'kid path traversal ../../etc/passwd',
    ref: 'RFC 8725 §3.10',
    token: (ctx) => good(ctx, { kid: '../../etc/passwd' })
  },
  {
    name: "kid SQL injection ' OR 1=1 --",
    ref: 'RFC 8725 §3.10',
    token: (ctx) => good(ctx, { kid: "' OR 1=1 --" })
  },
  {
    name: 'kid of 10 KB (over the token length limit)',
    ref: 'RFC 8725 §3.10; bounded work per request',
    token: (ctx) => good(ctx, { kid: 'k'.repeat(10 * 1024) }),
    expect: 'oversized'
  },
  {
    name: 'kid of 2 KB (under the length limit: reaches the key lookup)',
    ref: 'RFC 8725 §3.10',
    token: (ctx) => good(ctx, { kid: 'k'.repeat(2 * 1024) })
  },
  {
    name: 'kid as an object',
    ref: 'RFC 7515 §4.1.4 (kid is a string)',
    token: (ctx) => good(ctx, { kid: { toString: ctx.key.kid } })
  },
  {
    name: 'kid __proto__',
    ref: 'RFC 8725 §3.10',
    token: (ctx) => good(ctx, { kid: '__proto__' })
  },

  // --- signature integrity (RFC 7515 §5.2; RFC 8725 §3.4 "Validate All Cryptographic Operations")
  {
    name: `tampered payload: ${kind.name === 'access' ? 'role flipped to admin' : 'sub changed to another account'}, signature kept`,
    ref: 'RFC 7515 §5.2; OWASP WSTG-SESS-10 "Signature Verification"',
    token: (ctx) => {
      const [h, , s] = good(ctx).split('.')
      return `${h}.${segment(claims(ctx, kind.name === 'access' ? { role: 'admin' } : { sub: 'sub-canary-other' }))}.${s}`
    }
  },
  {
    name: 'signed by another Ed25519 key under our kid',
    ref: 'RFC 7515 §5.2',
    token: (ctx) => forge(header(ctx), claims(ctx), eddsa(otherKey.privateKey))
  },
  {
    name: 'signature of another token (header and payload swapped under it)',
    ref: 'RFC 8725 §2.6 (substitution)',
    token: (ctx) => {
      const a = good(ctx).split('.')
      const b = good(ctx, {}, { sub: 'sub-canary-other' }).split('.')
      return `${a[0]}.${a[1]}.${b[2]}`
    }
  },
  {
    name: 'signature empty (two dots, nothing after)',
    ref: 'RFC 7515 §5.2; RFC 8725 §3.1',
    token: (ctx) => forge(header(ctx), claims(ctx), unsigned)
  },

  // --- serialization (RFC 7515 §7.1 compact form: three base64url parts; RFC 7519 §7.2 steps 1-10)
  {
    name: 'truncated: last signature character cut',
    ref: 'RFC 7515 §5.2',
    token: (ctx) => good(ctx).slice(0, -1)
  },
  {
    name: 'truncated: cut in the middle of the payload',
    ref: 'RFC 7519 §7.2',
    token: (ctx) => { const tok = good(ctx); return tok.slice(0, tok.indexOf('.') + 20) }
  },
  {
    name: 'two segments',
    ref: 'RFC 7519 §7.2 step 1',
    token: (ctx) => good(ctx).split('.').slice(0, 2).join('.')
  },
  {
    name: 'four segments',
    ref: 'RFC 7515 §7.1 (JWE has five; nothing but three is a JWS)',
    token: (ctx) => `${good(ctx)}.${b64('extra')}`
  },
  {
    name: 'five segments (JWE shape)',
    ref: 'RFC 7516 §7.1; Tessera accepts only JWS',
    token: (ctx) => `${good(ctx)}.${b64('iv')}.${b64('tag')}`
  },
  {
    name: 'three empty segments',
    ref: 'RFC 7519 §7.2',
    token: () => '..'
  },
  {
    name: 'non-base64url characters in the payload (+ and /, allowed by the b64token syntax)',
    ref: 'RFC 7515 §2 (base64url without padding); RFC 4648 §3.3',
    token: (ctx) => {
      const [h, p, s] = good(ctx).split('.')
      return `${h}.${p.slice(0, 10)}+/${p.slice(12)}.${s}`
    }
  },
  {
    name: 'padded base64 signature (trailing ==)',
    ref: 'RFC 7515 §2 (no padding)',
    token: (ctx) => `${good(ctx)}==`
  },
  {
    name: 'tilde in the header segment',
    ref: 'RFC 7515 §2',
    token: (ctx) => `~${good(ctx)}`
  },
  {
    name: 'payload is a JSON array',
    ref: 'RFC 7519 §7.2 step 10 (the claims set is a JSON object)',
    token: (ctx) => forge(header(ctx), [claims(ctx)], eddsa(ctx.key.privateKey))
  },
  {
    name: 'payload is not JSON',
    ref: 'RFC 7519 §7.2 step 10',
    token: (ctx) => forge(header(ctx), 'this is not json {', eddsa(ctx.key.privateKey))
  },
  {
    name: 'payload is JSON null',
    ref: 'RFC 7519 §7.2 step 10',
    token: (ctx) => forge(header(ctx), 'null', eddsa(ctx.key.privateKey))
  },
  {
    name: 'header is not JSON',
    ref: 'RFC 7519 §7.2 step 3',
    token: (ctx) => forge('{"alg":"EdDSA",', claims(ctx), eddsa(ctx.key.privateKey))
  },
  {
    name: 'header is a JSON array',
    ref: 'RFC 7515 §4 (the JOSE header is a JSON object)',
    token: (ctx) => forge([header(ctx)], claims(ctx), eddsa(ctx.key.privateKey))
  },

  // --- critical headers (RFC 7515 §4.1.11: unknown crit MUST be rejected; RFC 8725 §3.10)
  {
    name: 'crit ["exp"] (exp is no JWS header parameter Tessera understands)',
    ref: 'RFC 7515 §4.1.11',
    token: (ctx) => good(ctx, { crit: ['exp'], exp: nowSeconds(ctx) + 900 })
  },
  {
    name: 'crit ["foo"], foo present',
    ref: 'RFC 7515 §4.1.11',
    token: (ctx) => good(ctx, { crit: ['foo'], foo: 'bar-canary-value' })
  },
  {
    name: 'crit ["foo"], foo absent',
    ref: 'RFC 7515 §4.1.11',
    token: (ctx) => good(ctx, { crit: ['foo'] })
  },
  {
    name: 'crit empty array',
    ref: 'RFC 7515 §4.1.11 (MUST NOT be empty)',
    token: (ctx) => good(ctx, { crit: [] })
  },
  {
    name: 'crit not an array',
    ref: 'RFC 7515 §4.1.11',
    token: (ctx) => good(ctx, { crit: 'foo' })
  }
]

/** Header-supplied keys: the attacker signs with their own key and tells us where to find it. */
function headerKeyRows (jkuUrl: string): Row[] {
  const ref = 'RFC 8725 §3.10 (jku/x5u: SSRF, keys must come from a trusted set); RFC 7515 §4.1.2-§4.1.6; OWASP WSTG-SESS-10 "Attacker Provided Public Key"'
  const variants: Array<[string, Record<string, unknown>]> = [
    ['jwk', { jwk: attackerJwk }],
    ['jku', { jku: jkuUrl }],
    ['x5u', { x5u: jkuUrl }],
    ['x5c', { x5c: attackerX5c }]
  ]
  return variants.flatMap(([name, extra]): Row[] => [
    {
      name: `${name} header with the attacker key, kid unknown`,
      ref,
      token: (ctx) => forge({ alg: 'EdDSA', typ: ctx.kind.typ, kid: 'attacker', ...extra }, claims(ctx), eddsa(attackerPem))
    },
    {
      name: `${name} header with the attacker key, our kid`,
      ref,
      token: (ctx) => forge(header(ctx, extra), claims(ctx), eddsa(attackerPem))
    },
    {
      name: `${name} header with the attacker key, no kid`,
      ref,
      token: (ctx) => forge({ alg: 'EdDSA', typ: ctx.kind.typ, ...extra }, claims(ctx), eddsa(attackerPem))
    }
  ])
}

/** The kind's own refusal: its status and code, its challenge (or none), and nothing of the token or the library in it. */
function assertRefused (t: Tap, ctx: Target, res: Response, token: string, expect: Expect): void {
  const { status, code } = ctx.kind.refused[expect]
  t.equal(res.statusCode, status, `${status} (${res.body})`)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const challenge = String(res.headers['www-authenticate'] ?? '')
  if (ctx.kind.challenge) t.ok(challenge.startsWith('Bearer realm="tessera", error="invalid_token"'), `challenge: ${challenge}`)
  else t.equal(challenge, '', 'a body token carries no Bearer challenge')
  const body = res.json<{ code: string, status: number }>()
  t.equal(body.code, code)
  t.equal(body.status, status)
  const text = res.body + '\n' + challenge
  for (const libraryCode of ['FAST_JWT', 'FST_JWT', 'TokenError']) t.notOk(text.includes(libraryCode), `no ${libraryCode} in the answer`)
  for (const value of canaries(ctx, token)) {
    t.notOk(text.includes(value), `the answer does not echo ${value.length > 40 ? value.slice(0, 40) + '…' : value}`)
  }
}

const ACCESS = KINDS[0]

t.test('positive control: an access token forged with the real key is accepted', async (t) => {
  const ctx = await target(t, ACCESS)
  const res = await ACCESS.present(ctx, good(ctx))
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { sub: ctx.user.id, role: 'user', iat: nowSeconds(ctx), exp: nowSeconds(ctx) + 900, jti: JTI })
})

t.test('positive control: exp 20 s in the past is within the 30 s tolerance', async (t) => {
  const ctx = await target(t, ACCESS)
  t.equal(ctx.config.jwt.clockTolerance, 30)
  const res = await ACCESS.present(ctx, good(ctx, {}, { iat: nowSeconds(ctx) - 920, exp: nowSeconds(ctx) - 20 }))
  t.equal(res.statusCode, 200, res.body)
})

t.test('positive control: nbf and iat 20 s in the future are within tolerance', async (t) => {
  const ctx = await target(t, ACCESS)
  const now = nowSeconds(ctx)
  const res = await ACCESS.present(ctx, good(ctx, {}, { nbf: now + 20, iat: now + 20 }))
  t.equal(res.statusCode, 200, res.body)
})

for (const kind of KINDS) {
  t.test(`forged and broken ${kind.name} tokens are refused with ${kind.refused.invalid.status} ${kind.refused.invalid.code}`, async (t) => {
    const ctx = await target(t, kind)
    const jwks = await trap(t)
    // The trap answers when asked: a request to it is the only way the count moves.
    t.equal((await fetch(jwks.url)).status, 200)
    const before = jwks.hits()
    for (const row of [...rows(kind), ...headerKeyRows(jwks.url)]) {
      await t.test(`${row.name} [${row.ref}]`, async (t) => {
        const token = await row.token(ctx)
        assertRefused(t, ctx, await kind.present(ctx, token), token, row.expect ?? 'invalid')
      })
    }
    // Last, as a reset token works once: the account is as the rows found it, so they failed for what they forged.
    // The header's key hints are ignored, not followed: the kid alone picks the key.
    const baseline = await kind.present(ctx, good(ctx, { jku: jwks.url, x5u: jwks.url, jwk: attackerJwk }))
    t.equal(baseline.statusCode, kind.accepted, `positive control: the baseline ${kind.name} token is accepted (${baseline.body})`)
    t.equal(jwks.hits(), before, 'no outbound request to the jku/x5u URL')
  })
}

t.test('duplicate claim names: the lexically last value is used, never a 500', async (t) => {
  // RFC 7519 §4: parsers MUST either reject duplicate claim names or use the lexically last one.
  // Tessera uses JSON.parse, which keeps the last; that is the second option. Only the holder of the
  // private key can sign such a token, and Tessera's signer (JSON.stringify) cannot produce one.
  const ctx = await target(t, ACCESS)
  const now = nowSeconds(ctx)
  const raw = `{"iss":"${ctx.config.jwt.issuer}","aud":"${ctx.config.jwt.audience}","sub":"dup-first","sub":"dup-last",` +
    `"role":"user","iat":${now},"exp":${now + 900},"jti":"${JTI}"}`
  const res = await ACCESS.present(ctx, forge(header(ctx), raw, eddsa(ctx.key.privateKey)))
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().sub, 'dup-last')

  // A duplicate that makes the claims invalid is refused like any other invalid claim, not a 500.
  const bad = raw.replace('"role":"user"', '"role":"user","role":"superuser"')
  const refused = await ACCESS.present(ctx, forge(header(ctx), bad, eddsa(ctx.key.privateKey)))
  t.equal(refused.statusCode, 401, refused.body)
  t.equal(refused.json().code, 'ERR_TOKEN_INVALID')
})

t.test('a refused token does not poison the next good one (no negative caching across tokens)', async (t) => {
  const ctx = await target(t, ACCESS)
  for (const row of rows(ACCESS).slice(0, 10)) await ACCESS.present(ctx, await row.token(ctx))
  const res = await ACCESS.present(ctx, good(ctx))
  t.equal(res.statusCode, 200, res.body)
})

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Another spelling of the same bytes: the last character changed in its unused low bits, or (for a
 * segment of 4k characters, which has none) one extra character, which Node's decoder drops.
 */
function respelled (segment: string): string {
  const bytes = Buffer.from(segment, 'base64url')
  const sibling = [...BASE64URL].map((c) => segment.slice(0, -1) + c)
    .find((s) => s !== segment && Buffer.from(s, 'base64url').equals(bytes))
  return sibling ?? `${segment}A`
}

/** The token with segment `index` (0 header, 1 payload, 2 signature) respelled; the test checks it decodes the same. */
function respellSegment (t: Tap, token: string, index: number): string {
  const segments = token.split('.')
  segments[index] = respelled(segments[index])
  const variant = segments.join('.')
  t.not(variant, token)
  t.same(variant.split('.').map((s) => Buffer.from(s, 'base64url')), token.split('.').map((s) => Buffer.from(s, 'base64url')), 'same bytes, other text')
  return variant
}

const SEGMENT_NAMES = ['header', 'payload', 'signature']

t.test('finding 11: an access token respelled in any segment (same bytes, other base64url) is refused with 401 invalid_token', async (t) => {
  // Only the signature's spelling is outside what it signs, so only that variant verified before the fix;
  // the header and payload variants show every segment is held to the one spelling before any verification.
  const ctx = await target(t, ACCESS)
  const { accessToken } = await register(ctx.app, 'bob@example.com')
  const whoami = (token: string) => ACCESS.present(ctx, token)
  // Accepted first, so it sits in the verified-token cache that is keyed by the token's text.
  t.equal((await whoami(accessToken)).statusCode, 200)
  for (const [index, name] of SEGMENT_NAMES.entries()) {
    await t.test(name, async (t) => {
      const variant = respellSegment(t, accessToken, index)
      assertRefused(t, ctx, await whoami(variant), variant, 'invalid')
    })
  }
  t.equal((await whoami(accessToken)).statusCode, 200, 'the real token still works')
})

t.test('finding 11: a refresh token respelled in any segment is refused with 401 ERR_REFRESH_TOKEN_INVALID', async (t) => {
  const ctx = await build(t)
  const { refreshToken } = await register(ctx.app)
  const refresh = (token: string) => ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: token } })
  for (const [index, name] of SEGMENT_NAMES.entries()) {
    await t.test(name, async (t) => {
      const res = await refresh(respellSegment(t, refreshToken, index))
      assertProblem(t, res, 401, 'ERR_REFRESH_TOKEN_INVALID')
    })
  }
  t.equal((await refresh(refreshToken)).statusCode, 200, 'the real token still works')
})

t.test('finding 11: reset and verification link tokens respelled in any segment are refused with their 400 problem', async (t) => {
  const ctx = await build(t)
  const { user } = await register(ctx.app)
  const stored = await ctx.store.findById(user.id)
  if (stored === null) throw new Error('registered user not found')
  const links = new LinkTokenIssuer(() => ctx.keys.ring(), { issuer: ctx.config.jwt.issuer, resetTtl: 600, verifyTtl: 600 }, ctx.clock)
  const kinds = [
    { url: '/v1/auth/password/reset', token: links.signReset(stored).token, code: 'ERR_RESET_TOKEN_INVALID', extra: { newPassword: NEW_PASSWORD } },
    { url: '/v1/auth/email/verify', token: links.signVerification(stored).token, code: 'ERR_VERIFY_TOKEN_INVALID', extra: {} }
  ]
  for (const kind of kinds) {
    const post = (token: string) => ctx.app.inject({ method: 'POST', url: kind.url, payload: { token, ...kind.extra } })
    for (const [index, name] of SEGMENT_NAMES.entries()) {
      await t.test(`${kind.url}: ${name}`, async (t) => {
        assertProblem(t, await post(respellSegment(t, kind.token, index)), 400, kind.code)
      })
    }
    t.equal((await post(kind.token)).statusCode, 204, `${kind.url}: the real token still works`)
  }
})
