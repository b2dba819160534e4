// Email verification through a real SMTP server: the link sent at registration, idempotent verify, resend, REQUIRE_VERIFIED_EMAIL.
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { assertProblem, bearer, PASSWORD, register, type AuthResultBody } from '../../support/app'
import {
  buildWithMail, decodeJwt, forgot, isReset, isVerify, login, NEW_PASSWORD, resetPassword, VERIFY_SUBJECT, verifyEmail
} from '../../support/mail'
import { tokenFromLink } from '../../support/smtp-sink'

const EMAIL = 'alice@example.com'
const resend = (ctx: { app: FastifyInstance }, token: string, remoteAddress = '127.0.0.1') =>
  ctx.app.inject({ method: 'POST', url: '/v1/auth/email/resend', headers: bearer(token), remoteAddress })

t.test('registration mails a verification link; verifying is idempotent and shows in the User', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  t.equal(reg.user.emailVerified, false)

  const mail = await ctx.sink.next(isVerify)
  t.same(mail.to, [EMAIL])
  t.equal(mail.subject, VERIFY_SUBJECT)
  t.match(mail.text, /within 1 day:/)
  const { link, token } = tokenFromLink(mail.text, 'verify-email')
  t.ok(link.startsWith('https://app.example.com/account/verify-email#token='))
  t.ok(mail.html.includes(`href="${link}"`))
  const { header, claims } = decodeJwt(token)
  t.strictSame(header, { alg: 'EdDSA', typ: 'verify+jwt', kid: ctx.key.kid })
  t.strictSame(Object.keys(claims), ['iss', 'aud', 'sub', 'email', 'iat', 'exp', 'jti'])
  t.match(claims, { iss: 'tessera', aud: 'tessera/verify', sub: reg.user.id, email: EMAIL })
  t.equal(Number(claims.exp) - Number(claims.iat), 24 * 3600, 'VERIFY_TOKEN_TTL default 24h')

  const first = await verifyEmail(ctx.app, token)
  t.equal(first.statusCode, 204, first.body)
  const me = await ctx.app.inject({ url: '/v1/me', headers: bearer(reg.accessToken) })
  t.equal(me.json<{ emailVerified: boolean }>().emailVerified, true)
  t.equal((await verifyEmail(ctx.app, token)).statusCode, 204, 'a second use is fine: nothing changes')
  t.equal((await ctx.store.findById(reg.user.id))?.emailVerified, true)
})

t.test('a verification link is refused when expired, tampered, for a gone account or for another address', async (t) => {
  const ctx = await buildWithMail(t, { env: { VERIFY_TOKEN_TTL: '1h' } })
  const reg = await register(ctx.app, EMAIL)
  const { token } = tokenFromLink((await ctx.sink.next(isVerify)).text, 'verify-email')

  const start = ctx.clock.now()
  ctx.clock.set(start + (3600 + 31) * 1000)
  assertProblem(t, await verifyEmail(ctx.app, token), 400, 'ERR_VERIFY_TOKEN_EXPIRED')
  ctx.clock.set(start + (3600 + 30) * 1000)
  assertProblem(t, await verifyEmail(ctx.app, token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA')), 400, 'ERR_VERIFY_TOKEN_INVALID')

  // The email claim binds the link to one address: the same account with another address in the token is refused.
  const now = Math.floor(ctx.clock.now() / 1000)
  const sign = createSigner({ key: ctx.key.privateKey, algorithm: 'EdDSA', kid: ctx.key.kid, header: { alg: 'EdDSA', typ: 'verify+jwt' } })
  const claims = { iss: 'tessera', aud: 'tessera/verify', sub: reg.user.id, email: 'old-address@example.com', iat: now, exp: now + 600, jti: 'v-1' }
  assertProblem(t, await verifyEmail(ctx.app, sign(claims)), 400, 'ERR_VERIFY_TOKEN_INVALID')
  t.equal((await ctx.store.findById(reg.user.id))?.emailVerified, false, 'nothing was verified')

  // A deleted account: the address registered again belongs to a new account, which the old link does not verify.
  t.equal(await ctx.store.delete(reg.user.id), true)
  const again = await register(ctx.app, EMAIL)
  assertProblem(t, await verifyEmail(ctx.app, token), 400, 'ERR_VERIFY_TOKEN_INVALID')
  t.equal((await ctx.store.findById(again.user.id))?.emailVerified, false)
})

t.test('resend (Bearer): 202 and a new working link; 409 once verified; 401 without a token; 403 when disabled', async (t) => {
  const ctx = await buildWithMail(t)
  const reg = await register(ctx.app, EMAIL)
  await ctx.sink.next(isVerify)

  const res = await resend(ctx, reg.accessToken)
  t.equal(res.statusCode, 202, res.body)
  t.same(res.json(), { message: 'A new verification link is on its way.' })
  const { token } = tokenFromLink((await ctx.sink.next(isVerify)).text, 'verify-email')
  t.equal((await verifyEmail(ctx.app, token)).statusCode, 204)
  assertProblem(t, await resend(ctx, reg.accessToken), 409, 'ERR_EMAIL_ALREADY_VERIFIED')

  const noToken = await ctx.app.inject({ method: 'POST', url: '/v1/auth/email/resend' })
  assertProblem(t, noToken, 401, 'ERR_AUTH_REQUIRED')
  t.equal(noToken.headers['www-authenticate'], 'Bearer realm="tessera"')
  assertProblem(t, await resend(ctx, token), 401, 'ERR_TOKEN_INVALID')

  const bob = await register(ctx.app, 'bob@example.com')
  await ctx.store.update(bob.user.id, { disabled: true })
  assertProblem(t, await resend(ctx, bob.accessToken), 403, 'ERR_ACCOUNT_DISABLED')
  await ctx.mailer.settled()
  t.equal(ctx.sink.messages.filter((m) => m.to.includes('bob@example.com')).length, 1, 'bob got only the registration mail')
})

t.test('REQUIRE_VERIFIED_EMAIL=true: login is 403 after the right password until the address is verified', async (t) => {
  const ctx = await buildWithMail(t, { env: { REQUIRE_VERIFIED_EMAIL: 'true' } })
  const reg = await register(ctx.app, EMAIL)
  const { token } = tokenFromLink((await ctx.sink.next(isVerify)).text, 'verify-email')

  assertProblem(t, await login(ctx.app, EMAIL, 'not the password at all'), 401, 'ERR_INVALID_CREDENTIALS')
  assertProblem(t, await login(ctx.app, 'nobody@example.com', PASSWORD), 401, 'ERR_INVALID_CREDENTIALS')
  assertProblem(t, await login(ctx.app, EMAIL, PASSWORD), 403, 'ERR_EMAIL_NOT_VERIFIED')
  // The session registration opened goes on, so the client can ask for another link.
  t.equal((await resend(ctx, reg.accessToken)).statusCode, 202)

  t.equal((await verifyEmail(ctx.app, token)).statusCode, 204)
  const ok = await login(ctx.app, EMAIL, PASSWORD)
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.json<AuthResultBody>().user.emailVerified, true)
})

t.test('REQUIRE_VERIFIED_EMAIL=true: a password reset also verifies, so a locked-out user gets back in', async (t) => {
  const ctx = await buildWithMail(t, { env: { REQUIRE_VERIFIED_EMAIL: 'true' } })
  await register(ctx.app, EMAIL)
  assertProblem(t, await login(ctx.app, EMAIL, PASSWORD), 403, 'ERR_EMAIL_NOT_VERIFIED')
  await forgot(ctx.app, EMAIL)
  const { token } = tokenFromLink((await ctx.sink.next(isReset)).text, 'reset-password')
  t.equal((await resetPassword(ctx.app, token)).statusCode, 204)
  t.equal((await login(ctx.app, EMAIL, NEW_PASSWORD)).statusCode, 200)
})

t.test('by default (REQUIRE_VERIFIED_EMAIL=false) an unverified address logs in', async (t) => {
  const ctx = await buildWithMail(t)
  await register(ctx.app, EMAIL)
  const res = await login(ctx.app, EMAIL, PASSWORD)
  t.equal(res.statusCode, 200)
  t.equal(res.json<AuthResultBody>().user.emailVerified, false)
})
