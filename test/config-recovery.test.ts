// The settings of issue #8 (mail, links, REQUIRE_VERIFIED_EMAIL, mail limits): defaults, and refusals that name the variable.
import t from 'tap'
import { loadConfig } from '../src/config'
import { refusal } from './support/app'

t.test('defaults', async (t) => {
  const c = loadConfig({})
  t.strictSame(c.mail, { smtpUrl: undefined, from: 'Tessera <no-reply@localhost>', publicUrl: 'http://127.0.0.1:3000' })
  t.match(c.jwt, { resetTtl: 30 * 60, verifyTtl: 24 * 3600 })
  t.equal(c.requireVerifiedEmail, false)
  t.strictSame(c.rateLimits.mailIp, { max: 20, window: 3600 })
  t.strictSame(c.rateLimits.mailAddress, { max: 3, window: 3600 })
})

t.test('values are read', async (t) => {
  const c = loadConfig({
    SMTP_URL: 'smtps://user:pw@smtp.example.com:465', MAIL_FROM: 'Acme <auth@acme.test>', PUBLIC_URL: 'https://acme.test/app/',
    RESET_TOKEN_TTL: '15m', VERIFY_TOKEN_TTL: '7d', REQUIRE_VERIFIED_EMAIL: 'true', RATE_LIMIT_MAIL_IP: '5/10m', RATE_LIMIT_MAIL_ADDRESS: '1/1d'
  })
  t.strictSame(c.mail, { smtpUrl: 'smtps://user:pw@smtp.example.com:465', from: 'Acme <auth@acme.test>', publicUrl: 'https://acme.test/app' })
  t.match(c.jwt, { resetTtl: 900, verifyTtl: 7 * 86_400 })
  t.equal(c.requireVerifiedEmail, true)
  t.strictSame(c.rateLimits.mailAddress, { max: 1, window: 86_400 })
})

t.test('refusals name the variable and never echo an SMTP password', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL'],
    [{ SMTP_URL: 'smtp://user:hunter2-secret@[bad' }, 'SMTP_URL'],
    [{ PUBLIC_URL: 'ftp://example.com' }, 'PUBLIC_URL'],
    [{ PUBLIC_URL: 'http://' }, 'PUBLIC_URL'],
    [{ RESET_TOKEN_TTL: '2d' }, 'RESET_TOKEN_TTL'],
    [{ RESET_TOKEN_TTL: '0' }, 'RESET_TOKEN_TTL'],
    [{ VERIFY_TOKEN_TTL: '0' }, 'VERIFY_TOKEN_TTL'],
    [{ REQUIRE_VERIFIED_EMAIL: 'yes' }, 'REQUIRE_VERIFIED_EMAIL'],
    [{ RATE_LIMIT_MAIL_ADDRESS: '0/1h' }, 'RATE_LIMIT_MAIL_ADDRESS'],
    [{ RATE_LIMIT_MAIL_IP: 'many' }, 'RATE_LIMIT_MAIL_IP'],
    // A link token's audience must never be the access tokens' one.
    [{ JWT_AUDIENCE: 'tessera/reset' }, 'JWT_AUDIENCE'],
    [{ JWT_ISSUER: 'auth', JWT_AUDIENCE: 'auth/verify' }, 'JWT_AUDIENCE']
  ]
  for (const [env, variable] of cases) {
    const message = refusal(env)
    t.ok(message.includes(variable), `${JSON.stringify(env)}: names ${variable}`)
    t.notOk(message.includes('hunter2'), 'no password in the message')
  }
})
