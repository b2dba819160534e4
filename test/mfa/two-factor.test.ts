// Two-factor sign-in end to end over HTTP: enrolment and sign-in with codes from oathtool (an authenticator we did not
// write), single use of codes, recovery codes and mfaTokens, the administrator's reset, and what ends which session.
import t from 'tap'
import { LinkTokenIssuer } from '../../src/tokens/link-tokens'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, type AuthResultBody } from '../support/app'
import { requireService } from '../support/services'
import { oathtool } from '../support/totp'
import { challenge, claimsOf, enrol, login, STEP_MS, verify } from './support'

t.test('enrol with an outside authenticator, then sign in with password and code', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken, user } = await register(ctx.app)
  t.equal(user.mfaEnabled, false)

  const start = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: bearer(accessToken), payload: { password: PASSWORD } })
  t.equal(start.statusCode, 201)
  const { secret, otpauthUri } = start.json<{ secret: string, otpauthUri: string }>()
  t.match(secret, /^[A-Z2-7]{32}$/, '160-bit base32 secret')
  const uri = new URL(otpauthUri)
  t.equal(uri.protocol, 'otpauth:')
  t.equal(uri.host, 'totp')
  t.equal(decodeURIComponent(uri.pathname), '/tessera:alice@example.com')
  t.same(Object.fromEntries(uri.searchParams), { issuer: 'tessera', secret, algorithm: 'SHA1', digits: '6', period: '30' })
  const pending = await ctx.app.inject({ url: '/v1/me', headers: bearer(accessToken) })
  t.equal(pending.json().mfaEnabled, false, 'pending until confirmed')
  t.equal((await login(ctx.app)).json().accessToken !== undefined, true, 'and login still gives tokens')

  const confirm = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp/confirm', headers: bearer(accessToken), payload: { code: oathtool(secret, ctx.clock.now()) } })
  t.equal(confirm.statusCode, 200, confirm.body)
  const { recoveryCodes } = confirm.json<{ recoveryCodes: string[] }>()
  t.equal(recoveryCodes.length, 10)
  t.equal(new Set(recoveryCodes).size, 10)
  for (const code of recoveryCodes) t.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/)
  t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(accessToken) })).json().mfaEnabled, true)

  ctx.clock.advance(STEP_MS)
  const step = await challenge(t, ctx.app)
  t.same(step.methods, ['totp', 'recovery_code'])
  t.equal(step.expiresIn, 300)
  t.notOk('accessToken' in step, 'no tokens before the second factor')
  const res = await verify(ctx.app, { mfaToken: step.mfaToken, code: oathtool(secret, ctx.clock.now()) })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const signedIn = res.json<AuthResultBody>()
  t.equal(signedIn.user.mfaEnabled, true)
  t.same(claimsOf(signedIn.accessToken).amr, ['pwd', 'otp'], 'RFC 8176 amr after a second factor')
  const whoami = await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(signedIn.accessToken) })
  t.same(whoami.json().amr, ['pwd', 'otp'])

  // A refresh of that session keeps amr; a password-only sign-in (another account) has none.
  const refreshed = await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: signedIn.refreshToken } })
  t.same(claimsOf(refreshed.json<AuthResultBody>().accessToken).amr, ['pwd', 'otp'], 'refresh keeps amr')
  const bob = await register(ctx.app, 'bob@example.com')
  t.notOk('amr' in claimsOf(bob.accessToken), 'no amr without a second factor')
  t.notOk('amr' in claimsOf(bob.refreshToken))
  t.notOk('amr' in (await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(bob.accessToken) })).json())
})

t.test('a TOTP code works once, within one step either side of now', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  const { secret } = await enrol(t, ctx, accessToken)

  const code = oathtool(secret, ctx.clock.now())
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code })).statusCode, 200)
  const again = await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code })
  assertProblem(t, again, 401, 'ERR_MFA_CODE_INVALID')

  // The previous step's code, late but unused, is accepted... unless a later step was already used.
  ctx.clock.advance(STEP_MS)
  const late = oathtool(secret, ctx.clock.now() - STEP_MS)
  assertProblem(t, await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: late }), 401, 'ERR_MFA_CODE_INVALID')
  ctx.clock.advance(STEP_MS)
  const previous = oathtool(secret, ctx.clock.now() - STEP_MS)
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: previous })).statusCode, 200, 'one step late')

  ctx.clock.advance(10 * STEP_MS)
  const stale = oathtool(secret, ctx.clock.now() - 2 * STEP_MS)
  assertProblem(t, await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: stale }), 401, 'ERR_MFA_CODE_INVALID')
  const early = oathtool(secret, ctx.clock.now() + STEP_MS)
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: early })).statusCode, 200, 'one step early (a fast phone clock)')
  const tooEarly = oathtool(secret, ctx.clock.now() + 3 * STEP_MS)
  assertProblem(t, await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: tooEarly }), 401, 'ERR_MFA_CODE_INVALID')
})

t.test('a wrong code changes nothing: the same mfaToken then works with the right one', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken, user } = await register(ctx.app)
  const { secret } = await enrol(t, ctx, accessToken)
  const before = await ctx.store.mfaState(user.id)
  const { mfaToken } = await challenge(t, ctx.app)
  const right = oathtool(secret, ctx.clock.now())
  const wrong = right === '000000' ? '000001' : '000000'
  for (const payload of [{ mfaToken, code: wrong }, { mfaToken, recoveryCode: 'AAAA-BBBB-CCCC-DDDD' }, { mfaToken, recoveryCode: 'not a code' }]) {
    assertProblem(t, await verify(ctx.app, payload), 401, 'ERR_MFA_CODE_INVALID')
  }
  t.strictSame(await ctx.store.mfaState(user.id), before, 'state unchanged')
  t.equal((await ctx.store.listActiveSessions(user.id)).length, 1, 'no session created')
  t.equal((await verify(ctx.app, { mfaToken, code: right })).statusCode, 200)
})

t.test('an mfaToken works once, expires, and is no other kind of token (nor is another kind one)', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken, refreshToken } = await register(ctx.app)
  const { secret, recoveryCodes } = await enrol(t, ctx, accessToken)

  const used = await challenge(t, ctx.app)
  const parallel = await challenge(t, ctx.app)
  t.equal((await verify(ctx.app, { mfaToken: used.mfaToken, code: oathtool(secret, ctx.clock.now()) })).statusCode, 200)
  ctx.clock.advance(STEP_MS)
  assertProblem(t, await verify(ctx.app, { mfaToken: used.mfaToken, code: oathtool(secret, ctx.clock.now()) }), 401, 'ERR_MFA_TOKEN_INVALID')
  assertProblem(t, await verify(ctx.app, { mfaToken: used.mfaToken, recoveryCode: recoveryCodes[0] }), 401, 'ERR_MFA_TOKEN_INVALID')
  // One counter per user: a completed sign-in also ends challenges issued before it (documented trade-off).
  assertProblem(t, await verify(ctx.app, { mfaToken: parallel.mfaToken, code: oathtool(secret, ctx.clock.now()) }), 401, 'ERR_MFA_TOKEN_INVALID')

  const expiring = await challenge(t, ctx.app)
  ctx.clock.advance((300 + 30 + 1) * 1000)
  assertProblem(t, await verify(ctx.app, { mfaToken: expiring.mfaToken, code: oathtool(secret, ctx.clock.now()) }), 401, 'ERR_MFA_TOKEN_INVALID')

  const fresh = await challenge(t, ctx.app)
  const asAccess = await ctx.app.inject({ url: '/v1/me', headers: bearer(fresh.mfaToken) })
  assertProblem(t, asAccess, 401, 'ERR_TOKEN_INVALID')
  t.match(asAccess.headers['www-authenticate'], /error="invalid_token"/)
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: fresh.mfaToken } }), 401, 'ERR_REFRESH_TOKEN_INVALID')
  const code = oathtool(secret, ctx.clock.now())
  for (const other of [accessToken, refreshToken, 'not.a.token', 'x'.repeat(5000)]) {
    // The token is checked before the body schema, so the limits can count per token: an oversized one is refused there.
    assertProblem(t, await verify(ctx.app, { mfaToken: other, code }), 401, 'ERR_MFA_TOKEN_INVALID')
  }
  t.equal((await verify(ctx.app, { mfaToken: fresh.mfaToken, code })).statusCode, 200, 'none of that spent the code or the token')

  // Bound to the token version: signing out everywhere kills a pending challenge.
  const pending = await challenge(t, ctx.app)
  const admin = await registerAdmin(ctx)
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/users/${(await ctx.store.findByEmail('alice@example.com'))!.id}/sessions`, headers: bearer(admin.accessToken) })).statusCode, 204)
  ctx.clock.advance(STEP_MS)
  assertProblem(t, await verify(ctx.app, { mfaToken: pending.mfaToken, code: oathtool(secret, ctx.clock.now()) }), 401, 'ERR_MFA_TOKEN_INVALID')
})

t.test('recovery codes: each signs in once, typed loosely; new ones void the old', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken, user } = await register(ctx.app)
  const { secret, recoveryCodes } = await enrol(t, ctx, accessToken)

  const res = await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, recoveryCode: recoveryCodes[0] })
  t.equal(res.statusCode, 200, res.body)
  t.same(claimsOf(res.json<AuthResultBody>().accessToken).amr, ['pwd', 'otp'])
  assertProblem(t, await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, recoveryCode: recoveryCodes[0] }), 401, 'ERR_MFA_CODE_INVALID')
  const loose = ` ${recoveryCodes[1].toLowerCase().replaceAll('-', '')} `
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, recoveryCode: loose })).statusCode, 200, 'lower case, no hyphens')
  t.equal((await ctx.store.mfaState(user.id))?.recoveryCodesLeft, 8)

  const wrong = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/recovery-codes', headers: bearer(accessToken), payload: { code: '000000' === oathtool(secret, ctx.clock.now()) ? '000001' : '000000' } })
  assertProblem(t, wrong, 401, 'ERR_MFA_CODE_INVALID')
  t.equal(wrong.headers['www-authenticate'], undefined, 'no challenge: the access token is fine')
  const renewed = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/recovery-codes', headers: bearer(accessToken), payload: { code: oathtool(secret, ctx.clock.now()) } })
  t.equal(renewed.statusCode, 200, renewed.body)
  const fresh = renewed.json<{ recoveryCodes: string[] }>().recoveryCodes
  t.equal(fresh.length, 10)
  assertProblem(t, await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, recoveryCode: recoveryCodes[2] }), 401, 'ERR_MFA_CODE_INVALID')
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, recoveryCode: fresh[9] })).statusCode, 200)
})

t.test('turning it off with a code or a recovery code; login then gives tokens again', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  const { secret, recoveryCodes } = await enrol(t, ctx, accessToken)
  const off = (payload: Record<string, unknown>) => ctx.app.inject({ method: 'DELETE', url: '/v1/me/mfa', headers: bearer(accessToken), payload })
  assertProblem(t, await off({ code: oathtool(secret, ctx.clock.now() - 3 * STEP_MS) }), 401, 'ERR_MFA_CODE_INVALID')
  assertProblem(t, await off({ code: '12345' }), 400, 'ERR_VALIDATION')
  assertProblem(t, await off({ code: oathtool(secret, ctx.clock.now()), recoveryCode: recoveryCodes[0] }), 400, 'ERR_VALIDATION')
  assertProblem(t, await off({}), 400, 'ERR_VALIDATION')
  t.equal((await off({ code: oathtool(secret, ctx.clock.now()) })).statusCode, 204)
  t.equal((await login(ctx.app)).json<AuthResultBody>().user.mfaEnabled, false)
  assertProblem(t, await off({ recoveryCode: recoveryCodes[0] }), 409, 'ERR_MFA_NOT_ENABLED')

  const again = await enrol(t, ctx, accessToken)
  t.not(again.secret, secret, 'a new enrolment has a new secret')
  t.equal((await off({ recoveryCode: again.recoveryCodes[4] })).statusCode, 204, 'off with a recovery code')
  t.ok('accessToken' in (await login(ctx.app)).json())
})

t.test('enrolment refusals change nothing', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken, user } = await register(ctx.app)
  const enrolWith = (password: string) => ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: bearer(accessToken), payload: { password } })
  const confirm = (code: string) => ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp/confirm', headers: bearer(accessToken), payload: { code } })

  assertProblem(t, await confirm('123456'), 409, 'ERR_MFA_NOT_PENDING')
  assertProblem(t, await enrolWith('not the password at all'), 403, 'ERR_WRONG_PASSWORD')
  t.equal((await ctx.store.mfaState(user.id))?.pendingSecret, null, 'a wrong password starts nothing')
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: bearer(accessToken), payload: {} }), 400, 'ERR_VALIDATION')
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', payload: { password: PASSWORD } }), 401, 'ERR_AUTH_REQUIRED')

  const first = (await enrolWith(PASSWORD)).json<{ secret: string }>().secret
  const second = (await enrolWith(PASSWORD)).json<{ secret: string }>().secret
  assertProblem(t, await confirm(oathtool(first, ctx.clock.now())), 401, 'ERR_MFA_CODE_INVALID')
  const pending = await ctx.store.mfaState(user.id)
  t.equal(pending?.secret, null, 'still off after a wrong code')
  assertProblem(t, await confirm('12345a'), 400, 'ERR_VALIDATION')
  t.equal((await confirm(oathtool(second, ctx.clock.now()))).statusCode, 200, 'the latest enrolment is the one confirmed')
  assertProblem(t, await enrolWith(PASSWORD), 409, 'ERR_MFA_ALREADY_ENABLED')
  assertProblem(t, await confirm(oathtool(second, ctx.clock.now() + STEP_MS)), 409, 'ERR_MFA_ALREADY_ENABLED')
})

t.test('enrolling and turning off end the other sessions; the caller\'s goes on', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const here = await register(ctx.app)
  const there = (await login(ctx.app)).json<AuthResultBody>()
  const refresh = (token: string) => ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: token } })
  const { secret } = await enrol(t, ctx, here.accessToken)
  assertProblem(t, await refresh(there.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  const next = await refresh(here.refreshToken)
  t.equal(next.statusCode, 200, 'the enrolling session goes on')

  const other = (await ctx.app.inject({ method: 'POST', url: '/v1/auth/mfa/verify', payload: { mfaToken: (await challenge(t, ctx.app)).mfaToken, code: oathtool(secret, ctx.clock.now()) } })).json<AuthResultBody>()
  ctx.clock.advance(STEP_MS)
  const current = next.json<AuthResultBody>()
  t.equal((await ctx.app.inject({ method: 'DELETE', url: '/v1/me/mfa', headers: bearer(current.accessToken), payload: { code: oathtool(secret, ctx.clock.now()) } })).statusCode, 204)
  assertProblem(t, await refresh(other.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.equal((await refresh(current.refreshToken)).statusCode, 200)
})

t.test('a password reset keeps two-factor sign-in on', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  const { secret } = await enrol(t, ctx, accessToken)
  const user = (await ctx.store.findByEmail('alice@example.com'))!
  const links = new LinkTokenIssuer(() => ctx.keys.ring(), { issuer: ctx.config.jwt.issuer, resetTtl: 600, verifyTtl: 600 }, ctx.clock)
  const newPassword = 'another long passphrase entirely'
  const reset = await ctx.app.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token: links.signReset(user).token, newPassword } })
  t.equal(reset.statusCode, 204, reset.body)
  const step = await login(ctx.app, 'alice@example.com', newPassword)
  t.equal(step.json().mfaRequired, true, 'the new password is still only the first factor')
  t.equal((await verify(ctx.app, { mfaToken: step.json().mfaToken, code: oathtool(secret, ctx.clock.now()) })).statusCode, 200)
})

t.test('an administrator resets a lost device: MFA off, every session ended', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const alice = await register(ctx.app)
  await enrol(t, ctx, alice.accessToken)
  const admin = await registerAdmin(ctx)
  const reset = (id: string, token = admin.accessToken) => ctx.app.inject({ method: 'DELETE', url: `/v1/users/${id}/mfa`, headers: bearer(token) })

  assertProblem(t, await reset(alice.user.id, alice.accessToken), 403, 'ERR_FORBIDDEN')
  t.equal((await ctx.store.findById(alice.user.id))?.mfaEnabled, true, 'a non-admin changed nothing')
  assertProblem(t, await reset('0190a000-0000-7000-8000-000000000000'), 404, 'ERR_USER_NOT_FOUND')
  assertProblem(t, await reset(admin.user.id), 409, 'ERR_MFA_NOT_ENABLED')
  t.equal((await reset(alice.user.id)).statusCode, 204)
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: alice.refreshToken } }), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  const back = (await login(ctx.app)).json<AuthResultBody>()
  t.equal(back.user.mfaEnabled, false)
  t.ok(back.accessToken, 'the password alone signs in again')
  t.same(await ctx.store.mfaState(alice.user.id), { secret: null, pendingSecret: null, lastStep: null, counter: (await ctx.store.mfaState(alice.user.id))?.counter, recoveryCodesLeft: 0 })
  assertProblem(t, await reset(alice.user.id), 409, 'ERR_MFA_NOT_ENABLED')
})

t.test('second-step refusals: a disabled account, a body with both or neither factor', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const { accessToken, user } = await register(ctx.app)
  const { secret, recoveryCodes } = await enrol(t, ctx, accessToken)
  const { mfaToken } = await challenge(t, ctx.app)
  const code = oathtool(secret, ctx.clock.now())
  for (const payload of [{ mfaToken }, { mfaToken, code, recoveryCode: recoveryCodes[0] }, { mfaToken, code: 123456 }, { code }, { mfaToken, code, extra: 1 }]) {
    assertProblem(t, await verify(ctx.app, payload), 400, 'ERR_VALIDATION')
  }
  await ctx.store.update(user.id, { disabled: true })
  assertProblem(t, await verify(ctx.app, { mfaToken, code }), 403, 'ERR_ACCOUNT_DISABLED')
  await ctx.store.update(user.id, { disabled: false })
  t.equal((await verify(ctx.app, { mfaToken, code })).statusCode, 200, 'nothing was spent by the refusals')
})

t.test('the security history records two-factor changes and second-factor sign-ins', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const ctx = await build(t)
  const alice = await register(ctx.app)
  const { secret } = await enrol(t, ctx, alice.accessToken)
  const { mfaToken } = await challenge(t, ctx.app)
  const signedIn = (await verify(ctx.app, { mfaToken, code: oathtool(secret, ctx.clock.now()) })).json<AuthResultBody>()
  ctx.clock.advance(STEP_MS)
  const off = await ctx.app.inject({ method: 'DELETE', url: '/v1/me/mfa', headers: bearer(signedIn.accessToken), payload: { code: oathtool(secret, ctx.clock.now()) } })
  t.equal(off.statusCode, 204, off.body)
  const again = await register(ctx.app, 'bob@example.com')
  const bob = await enrol(t, ctx, again.accessToken)
  t.ok(bob.secret)
  const admin = await registerAdmin(ctx)
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/users/${again.user.id}/mfa`, headers: bearer(admin.accessToken) })).statusCode, 204)

  const events = async (id: string) => (await ctx.store.listSecurityEvents(id, { limit: 20 })).map((e) => ({ type: e.type, detail: e.detail, sessionId: e.sessionId, actorId: e.actorId }))
  const aliceEvents = await events(alice.user.id)
  t.match(aliceEvents.find((e) => e.type === 'mfa_enabled'), { sessionId: alice.sessionId }, 'enrolment, from the session that enrolled')
  t.match(aliceEvents.find((e) => e.type === 'login_succeeded' && e.detail === 'second factor'), { sessionId: signedIn.sessionId }, 'the sign-in finished with a code')
  t.match(aliceEvents.find((e) => e.type === 'mfa_disabled'), { sessionId: signedIn.sessionId }, 'turned off by its owner')
  t.notOk(aliceEvents.some((e) => e.type === 'login_succeeded' && e.sessionId === null), 'the password step alone records no sign-in')
  t.match((await events(again.user.id)).find((e) => e.type === 'admin_mfa_reset'), { actorId: admin.user.id }, 'the reset names the administrator')
})
