// Second-factor guesses are limited per mfaToken and per account (RATE_LIMIT_MFA_*), right or wrong, as 429 problems.
import t from 'tap'
import { assertProblem, bearer, build, register } from '../support/app'
import { requireService } from '../support/services'
import { oathtool } from '../support/totp'
import { challenge, enrol, verify } from './support'

const wrongFor = (right: string): string => right === '000000' ? '000001' : '000000'

t.test('per mfaToken: after the quota even the right code is refused; a new token gets a new quota', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_MFA_TOKEN: '3/5m', RATE_LIMIT_MFA_ACCOUNT: '100/15m' } })
  const { accessToken } = await register(ctx.app)
  const { secret } = await enrol(t, ctx, accessToken)
  const { mfaToken } = await challenge(t, ctx.app)
  const right = oathtool(secret, ctx.clock.now())
  for (let i = 0; i < 3; i++) {
    const res = await verify(ctx.app, { mfaToken, code: wrongFor(right) })
    assertProblem(t, res, 401, 'ERR_MFA_CODE_INVALID')
    t.match(res.headers.ratelimit, new RegExp(`"mfa-token";r=${2 - i};t=\\d+`))
  }
  const limited = await verify(ctx.app, { mfaToken, code: right })
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.match(limited.json().detail, /mfa-token/)
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: right })).statusCode, 200, 'a new password check, a new quota')
})

t.test('per account: tokens from many logins share one quota; another account is not affected', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_MFA_TOKEN: '5/5m', RATE_LIMIT_MFA_ACCOUNT: '4/15m' } })
  const alice = await register(ctx.app)
  const { secret } = await enrol(t, ctx, alice.accessToken)
  // The enrolment's confirm counted once against the account.
  const right = oathtool(secret, ctx.clock.now())
  for (let i = 0; i < 3; i++) {
    assertProblem(t, await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: wrongFor(right) }), 401, 'ERR_MFA_CODE_INVALID')
  }
  const limited = await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: right })
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.match(limited.json().detail, /mfa-account/)
  // The Bearer routes that take a code count against the same account quota.
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/recovery-codes', headers: bearer(alice.accessToken), payload: { code: right } }), 429, 'ERR_RATE_LIMITED')

  const bob = await register(ctx.app, 'bob@example.com')
  const bobs = await enrol(t, ctx, bob.accessToken)
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app, 'bob@example.com')).mfaToken, code: oathtool(bobs.secret, ctx.clock.now()) })).statusCode, 200)
})

t.test('a refused mfaToken is answered before the limits and uses no quota', async (t) => {
  const ctx = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_MFA_TOKEN: '1/5m', RATE_LIMIT_MFA_ACCOUNT: '1/15m' } })
  for (let i = 0; i < 3; i++) {
    const res = await verify(ctx.app, { mfaToken: 'not.a.token', code: '123456' })
    assertProblem(t, res, 401, 'ERR_MFA_TOKEN_INVALID')
    t.equal(res.headers.ratelimit, undefined)
  }
})
