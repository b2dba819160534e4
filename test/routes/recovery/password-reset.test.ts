// Password reset through a real SMTP server: forgot → mail → reset → login, single use, expiry, and token types kept apart.
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { passwordFingerprint } from '../../../src/tokens/link-tokens'
import { assertProblem, bearer, makeKey, PASSWORD, register } from '../../support/app'
import {
  buildWithMail, decodeJwt, forgot, isReset, isVerify, login, NEW_PASSWORD, refresh, RESET_SUBJECT, resetPassword, verifyEmail
} from '../../support/mail'
import { tokenFromLink } from '../../support/smtp-sink'

const EMAIL = 'alice@example.com'
const SECOND = 1000

t.test('forgot → mail → reset → login with the new password; the old password and old sessions are dead', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  ctx.clock.advance(60 * SECOND)

  const res = await forgot(ctx.app, ' Alice@Example.COM ')
  t.equal(res.statusCode, 202, res.body)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), { message: 'If an account uses this address, a link to reset its password is on its way.' })

  const mail = await ctx.sink.next(isReset)
  t.same(mail.to, [EMAIL], 'sent to the stored address')
  t.equal(mail.from, 'auth@tessera.test', 'envelope sender from MAIL_FROM')
  t.match(mail.headers.from, /Tessera Test <auth@tessera\.test>/)
  t.equal(mail.subject, RESET_SUBJECT)
  const { link, token } = tokenFromLink(mail.text, 'reset-password')
  t.ok(link.startsWith('https://app.example.com/account/reset-password#token='), `the link is built on PUBLIC_URL: ${link.slice(0, 60)}…`)
  t.match(mail.text, /within 30 minutes/, 'the text says how long the link works')
  t.ok(mail.html.includes(`href="${link}"`), 'the HTML body links to the same URL')

  const { header, claims } = decodeJwt(token)
  t.strictSame(header, { alg: 'EdDSA', typ: 'reset+jwt', kid: ctx.key.kid })
  t.strictSame(Object.keys(claims), ['iss', 'aud', 'sub', 'ver', 'pwd', 'iat', 'exp', 'jti'])
  const user = await ctx.store.findById(reg.user.id)
  t.match(claims, { iss: 'tessera', aud: 'tessera/reset', sub: reg.user.id, ver: 0, pwd: passwordFingerprint(user!.passwordHash) })
  t.equal(Number(claims.exp) - Number(claims.iat), 30 * 60, 'RESET_TOKEN_TTL default 30m')
  t.notOk(token.includes(user!.passwordHash) || JSON.stringify(claims).includes('$argon2'), 'no hash in the token')

  const done = await resetPassword(ctx.app, token)
  t.equal(done.statusCode, 204, done.body)
  t.equal(done.body, '')

  assertProblem(t, await login(ctx.app, EMAIL, PASSWORD), 401, 'ERR_INVALID_CREDENTIALS')
  const fresh = await login(ctx.app, EMAIL, NEW_PASSWORD)
  t.equal(fresh.statusCode, 200, 'the new password logs in')
  assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  const after = await ctx.store.findById(reg.user.id)
  t.equal(after?.tokenVersion, 1, 'the token version was bumped once')
  t.equal(after?.emailVerified, true, 'a reset link reached the inbox: the address counts as verified')
  t.equal(fresh.json<{ user: { emailVerified: boolean } }>().user.emailVerified, true)
})

t.test('a reset link works once, also when two requests race with it', async (t) => {
  const ctx = await buildWithMail(t)
  await register(ctx.app, EMAIL)
  await forgot(ctx.app, EMAIL)
  const { token } = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password')

  const [a, b] = await Promise.all([resetPassword(ctx.app, token, NEW_PASSWORD), resetPassword(ctx.app, token, 'another new passphrase here')])
  t.same([a.statusCode, b.statusCode].sort(), [204, 400], 'exactly one of two racing resets wins')
  const loser = a.statusCode === 400 ? a : b
  assertProblem(t, loser, 400, 'ERR_RESET_TOKEN_INVALID')
  t.equal((await ctx.store.findByEmail(EMAIL))?.tokenVersion, 1, 'one version bump')

  const again = await resetPassword(ctx.app, token, 'yet another new passphrase')
  assertProblem(t, again, 400, 'ERR_RESET_TOKEN_INVALID')
  t.notOk(again.headers['www-authenticate'], 'a body token carries no Bearer challenge')
  const winner = a.statusCode === 204 ? NEW_PASSWORD : 'another new passphrase here'
  t.equal((await login(ctx.app, EMAIL, winner)).statusCode, 200, 'the winner\'s password holds')
})

t.test('every earlier link dies with the first reset, a password change or logout-all', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  await forgot(ctx.app, EMAIL)
  await forgot(ctx.app, EMAIL)
  const first = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token
  const second = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token
  t.not(first, second)
  t.equal((await resetPassword(ctx.app, second)).statusCode, 204)
  assertProblem(t, await resetPassword(ctx.app, first, 'attacker chosen passphrase'), 400, 'ERR_RESET_TOKEN_INVALID')

  // A link mailed before a password change (the pwd binding, and the version bump).
  const session = (await login(ctx.app, EMAIL, NEW_PASSWORD)).json<{ accessToken: string }>()
  await forgot(ctx.app, EMAIL)
  const beforeChange = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token
  const changed = await ctx.app.inject({
    method: 'PUT', url: '/v1/me/password', headers: bearer(session.accessToken), payload: { currentPassword: NEW_PASSWORD, newPassword: PASSWORD }
  })
  t.equal(changed.statusCode, 200)
  assertProblem(t, await resetPassword(ctx.app, beforeChange), 400, 'ERR_RESET_TOKEN_INVALID')

  // A link mailed before logout-all.
  await forgot(ctx.app, EMAIL)
  const beforeLogout = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token
  const access = changed.json<{ accessToken: string }>().accessToken
  t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(access) })).statusCode, 204)
  assertProblem(t, await resetPassword(ctx.app, beforeLogout), 400, 'ERR_RESET_TOKEN_INVALID')

  // The hash binding on its own: a new hash with the same version (an argon2 rehash at login) also ends the link.
  await forgot(ctx.app, EMAIL)
  const beforeRehash = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token
  await ctx.store.update(reg.user.id, { passwordHash: (await ctx.hasher.hash(PASSWORD)) })
  assertProblem(t, await resetPassword(ctx.app, beforeRehash), 400, 'ERR_RESET_TOKEN_INVALID')
})

t.test('a refused new password leaves the link usable', async (t) => {
  const ctx = await buildWithMail(t)
  await register(ctx.app, EMAIL)
  await forgot(ctx.app, EMAIL)
  const { token } = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password')
  const short = await resetPassword(ctx.app, token, 'too short')
  assertProblem(t, short, 400, 'ERR_PASSWORD_TOO_SHORT')
  t.match(short.json(), { errors: [{ path: '/newPassword' }] })
  assertProblem(t, await resetPassword(ctx.app, token, 'x'.repeat(129)), 400, 'ERR_PASSWORD_TOO_LONG')
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, newPassword: NEW_PASSWORD, extra: 1 } }), 400, 'ERR_VALIDATION')
  t.equal((await resetPassword(ctx.app, token)).statusCode, 204, 'the link still works')
})

t.test('expiry on the injected clock: RESET_TOKEN_TTL plus CLOCK_TOLERANCE, then ERR_RESET_TOKEN_EXPIRED', async (t) => {
  const ctx = await buildWithMail(t, { env: { RESET_TOKEN_TTL: '10m' } })
  await register(ctx.app, EMAIL)
  await forgot(ctx.app, EMAIL)
  const mail = await ctx.sink.next(isReset)
  t.match(mail.text, /within 10 minutes/)
  const { token } = tokenFromLink(mail.text, 'reset-password')
  const start = ctx.clock.now()

  ctx.clock.set(start + (10 * 60 + 30) * SECOND) // exp + tolerance: still accepted
  await forgot(ctx.app, EMAIL) // a second link, for the boundary check below
  const late = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token
  ctx.clock.set(start + (10 * 60 + 31) * SECOND)
  assertProblem(t, await resetPassword(ctx.app, token), 400, 'ERR_RESET_TOKEN_EXPIRED')
  t.equal((await resetPassword(ctx.app, late)).statusCode, 204, 'the later link is within its own lifetime')
})

t.test('token types never cross: access, refresh, reset and verify tokens each work in one place only', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  const verifyToken = tokenFromLink((await ctx.sink.next(isVerify)).text, 'verify-email').token
  await forgot(ctx.app, EMAIL)
  const resetToken = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password').token

  // As a reset token: access, refresh and verify tokens are refused.
  for (const [name, token] of [['access', reg.accessToken], ['refresh', reg.refreshToken], ['verify', verifyToken]]) {
    assertProblem(t, await resetPassword(ctx.app, token), 400, 'ERR_RESET_TOKEN_INVALID')
    t.comment(`${name} token refused as a reset token`)
  }
  // A reset token as an access token, a refresh token and a verification token.
  const whoami = await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(resetToken) })
  assertProblem(t, whoami, 401, 'ERR_TOKEN_INVALID')
  t.match(whoami.headers['www-authenticate'], /error="invalid_token"/)
  assertProblem(t, await ctx.app.inject({ url: '/v1/me', headers: bearer(resetToken) }), 401, 'ERR_TOKEN_INVALID')
  assertProblem(t, await refresh(ctx.app, resetToken), 401, 'ERR_REFRESH_TOKEN_INVALID')
  assertProblem(t, await verifyEmail(ctx.app, resetToken), 400, 'ERR_VERIFY_TOKEN_INVALID')
  // A verification token as an access or refresh token.
  assertProblem(t, await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(verifyToken) }), 401, 'ERR_TOKEN_INVALID')
  assertProblem(t, await refresh(ctx.app, verifyToken), 401, 'ERR_REFRESH_TOKEN_INVALID')
  // Tampering: one changed character in the signature.
  const tampered = resetToken.slice(0, -2) + (resetToken.endsWith('AA') ? 'BB' : 'AA')
  assertProblem(t, await resetPassword(ctx.app, tampered), 400, 'ERR_RESET_TOKEN_INVALID')
  // None of the refusals used the link up.
  t.equal((await resetPassword(ctx.app, resetToken)).statusCode, 204)
})

t.test('typ and aud are each checked: a token signed with the real key but one of them wrong is refused', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  const user = await ctx.store.findById(reg.user.id)
  const now = Math.floor(ctx.clock.now() / 1000)
  const claims = { iss: 'tessera', aud: 'tessera/reset', sub: reg.user.id, ver: 0, pwd: passwordFingerprint(user!.passwordHash), iat: now, exp: now + 600, jti: 'j-1' }
  const sign = (typ: string, payload: Record<string, unknown>, key = ctx.key) =>
    createSigner({ key: key.privateKey, algorithm: 'EdDSA', kid: key.kid, header: { alg: 'EdDSA', typ } })(payload)

  assertProblem(t, await resetPassword(ctx.app, sign('at+jwt', claims)), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', { ...claims, aud: 'tessera-api' })), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', { ...claims, aud: 'tessera' })), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', { ...claims, iss: 'someone-else' })), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', { ...claims, pwd: 'A'.repeat(22) })), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', { ...claims, ver: 1 })), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', { ...claims, pwd: undefined })), 400, 'ERR_RESET_TOKEN_INVALID')
  assertProblem(t, await resetPassword(ctx.app, sign('reset+jwt', claims, makeKey())), 400, 'ERR_RESET_TOKEN_INVALID')
  // The same claims with the right typ, aud and key: accepted, so the refusals above were about typ and aud.
  t.equal((await resetPassword(ctx.app, sign('reset+jwt', claims))).statusCode, 204)
})

t.test('no mail for a disabled account; the answer is the same 202', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  await ctx.sink.next(isVerify)
  await ctx.store.update(reg.user.id, { disabled: true, bumpTokenVersion: true })
  const res = await forgot(ctx.app, EMAIL)
  t.equal(res.statusCode, 202)
  await ctx.mailer.settled()
  t.equal(ctx.sink.messages.filter(isReset).length, 0, 'nothing sent')
})
