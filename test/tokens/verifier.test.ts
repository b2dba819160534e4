// The one verifier, row by row of the token table: every rule holds for every kind, on a fresh token and on a cached one.
import { createHmac, sign } from 'node:crypto'
import t from 'tap'
import { Problems, tokenProblem } from '../../src/lib/problem'
import { TokenError, type TokenReason } from '../../src/tokens/token-error'
import { TOKEN_KIND_NAMES, TOKEN_KINDS, type TokenKind } from '../../src/tokens/token-kinds'
import { MAX_TOKEN_LENGTH } from '../../src/tokens/verifier'
import { build, makeKey, type TestContext } from '../support/app'

/** Claims of each kind beyond the registered ones. A Record, so a new row of the table fails to compile until it is here. */
const OWN: Record<TokenKind, Record<string, unknown>> = {
  access: { role: 'user' },
  refresh: { ver: 0, auth_time: 0 },
  reset: { ver: 0, pwd: 'A'.repeat(22) },
  verify: { email: 'alice@example.com' },
  mfa: { ver: 0, ctr: 0 }
}

const now = (ctx: TestContext): number => Math.floor(ctx.clock.now() / 1000)
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

interface Forge { header?: Record<string, unknown>, claims?: Record<string, unknown>, key?: string }

/** A token of `kind` signed with the app's key: valid unless `changes` say otherwise. */
function token (ctx: TestContext, kind: TokenKind, changes: Forge = {}): string {
  const row = TOKEN_KINDS[kind]
  const settings = { ...ctx.config.jwt }
  const header = { alg: 'EdDSA', typ: row.typ, kid: ctx.key.kid, ...changes.header }
  const iat = now(ctx)
  const claims = {
    iss: settings.issuer, aud: row.audience(settings), sub: 'user-1', ...OWN[kind], iat, exp: iat + row.lifetime(settings), jti: 'jti-1', ...changes.claims
  }
  const input = `${b64(header)}.${b64(claims)}`
  return `${input}.${sign(null, Buffer.from(input), changes.key ?? ctx.key.privateKey).toString('base64url')}`
}

async function reason (promise: Promise<unknown>): Promise<TokenReason | 'accepted'> {
  try {
    await promise
    return 'accepted'
  } catch (err) {
    if (!(err instanceof TokenError)) throw err
    return err.reason
  }
}

const tolerance = (ctx: TestContext): number => ctx.config.jwt.clockTolerance

t.test('every kind: each rule refuses with its reason, and the kind in the error', async (t) => {
  const ctx = await build(t)
  const other = makeKey()
  for (const kind of TOKEN_KIND_NAMES) {
    const verify = (text: string) => reason(ctx.app.tokens.verify(kind, text))
    const good = token(ctx, kind)
    const [h, p, s] = good.split('.')
    const cases: Array<[string, string, TokenReason | 'accepted']> = [
      ['a good token', good, 'accepted'],
      [`longer than ${MAX_TOKEN_LENGTH} characters`, token(ctx, kind, { header: { pad: 'x'.repeat(MAX_TOKEN_LENGTH) } }), 'too-long'],
      ['not three segments', `${h}.${p}`, 'malformed'],
      ['payload segment in another spelling', `${h}.${p}A.${s}`, 'malformed'],
      ['claims not JSON', `${h}.${Buffer.from('{').toString('base64url')}.${s}`, 'malformed'],
      ['unknown kid', token(ctx, kind, { header: { kid: other.kid }, key: other.privateKey }), 'unknown-key'],
      ['our kid with another alg', `${b64({ alg: 'HS256', typ: TOKEN_KINDS[kind].typ, kid: ctx.key.kid })}.${p}.${createHmac('sha256', ctx.key.verifyKey).update('x').digest('base64url')}`, 'unknown-key'],
      ['signed by another key under our kid', token(ctx, kind, { key: other.privateKey }), 'bad-signature'],
      ['typ JWT', token(ctx, kind, { header: { typ: 'JWT' } }), 'wrong-type'],
      ['wrong issuer', token(ctx, kind, { claims: { iss: 'https://elsewhere.example' } }), 'bad-claims'],
      ['wrong audience', token(ctx, kind, { claims: { aud: 'elsewhere' } }), 'bad-claims'],
      ['jti missing', token(ctx, kind, { claims: { jti: undefined } }), 'bad-claims'],
      ['claims outside the schema', token(ctx, kind, { claims: { sub: '' } }), 'bad-claims'],
      ['expired beyond the tolerance', token(ctx, kind, { claims: { iat: now(ctx) - 3600, exp: now(ctx) - tolerance(ctx) - 1 } }), 'expired'],
      ['nbf beyond the tolerance', token(ctx, kind, { claims: { nbf: now(ctx) + tolerance(ctx) + 1 } }), 'not-yet-valid'],
      ['iat beyond the tolerance', token(ctx, kind, { claims: { iat: now(ctx) + tolerance(ctx) + 1 } }), 'not-yet-valid']
    ]
    for (const [name, text, expected] of cases) {
      t.equal(await verify(text), expected, `${kind}: ${name}`)
    }
    const err = await ctx.app.tokens.verify(kind, token(ctx, kind, { header: { typ: 'JWT' } })).catch((e: unknown) => e)
    t.match(err, { kind, reason: 'wrong-type' }, `${kind}: the error names the kind`)
  }
})

t.test('every kind: a token accepted once is refused once it expires (a cached kind included)', async (t) => {
  const ctx = await build(t)
  const tokens = Object.fromEntries(TOKEN_KIND_NAMES.map((kind) => [kind, token(ctx, kind)]))
  for (const kind of TOKEN_KIND_NAMES) t.equal(await reason(ctx.app.tokens.verify(kind, tokens[kind])), 'accepted', `${kind}: valid now`)
  t.ok(TOKEN_KIND_NAMES.some((kind) => TOKEN_KINDS[kind].cached), 'at least one kind is cached, so the cache path is covered')
  // Past the longest lifetime in the table plus the tolerance: every token above is expired.
  const longest = Math.max(...TOKEN_KIND_NAMES.map((kind) => TOKEN_KINDS[kind].lifetime(ctx.config.jwt)))
  ctx.clock.advance((longest + tolerance(ctx) + 1) * 1000)
  for (const kind of TOKEN_KIND_NAMES) t.equal(await reason(ctx.app.tokens.verify(kind, tokens[kind])), 'expired', `${kind}: expired`)
})

t.test('no two kinds share a typ or an audience, so none can be taken for another', async (t) => {
  const settings = (await build(t)).config.jwt
  const rows = TOKEN_KIND_NAMES.map((kind) => TOKEN_KINDS[kind])
  t.equal(new Set(rows.map((row) => row.typ)).size, rows.length, 'typ')
  t.equal(new Set(rows.map((row) => row.audience(settings))).size, rows.length, 'audience')
})

t.test('every (kind, reason) is answered with that kind\'s problem: only "expired" has a code of its own', async (t) => {
  const reasons: TokenReason[] = ['too-long', 'malformed', 'unknown-key', 'bad-signature', 'wrong-type', 'bad-claims', 'expired', 'not-yet-valid']
  const answers: Record<TokenKind, { invalid: string, expired: string, status: number, challenge: boolean }> = {
    access: { invalid: 'ERR_TOKEN_INVALID', expired: 'ERR_TOKEN_EXPIRED', status: 401, challenge: true },
    refresh: { invalid: 'ERR_REFRESH_TOKEN_INVALID', expired: 'ERR_REFRESH_TOKEN_EXPIRED', status: 401, challenge: false },
    reset: { invalid: 'ERR_RESET_TOKEN_INVALID', expired: 'ERR_RESET_TOKEN_EXPIRED', status: 400, challenge: false },
    verify: { invalid: 'ERR_VERIFY_TOKEN_INVALID', expired: 'ERR_VERIFY_TOKEN_EXPIRED', status: 400, challenge: false },
    // Expired or not, the user logs in again: one code.
    mfa: { invalid: 'ERR_MFA_TOKEN_INVALID', expired: 'ERR_MFA_TOKEN_INVALID', status: 401, challenge: false }
  }
  for (const kind of TOKEN_KIND_NAMES) {
    for (const why of reasons) {
      const problem = tokenProblem(new TokenError(kind, why))
      const expected = answers[kind]
      t.equal(problem.status, expected.status, `${kind} ${why}: status`)
      t.equal(problem.code, why === 'expired' ? expected.expired : expected.invalid, `${kind} ${why}: code`)
      t.equal(problem.bearer?.error, expected.challenge ? 'invalid_token' : undefined, `${kind} ${why}: challenge`)
    }
  }
  t.equal(tokenProblem(new TokenError('access', 'expired')).detail, Problems.expiredToken().detail)
})
