// Audit finding 3: one strict address grammar wherever an email comes in, and mail to exactly one mailbox.
import t from 'tap'
import { ManualClock, nowSeconds } from '../../src/clock'
import { newSessionId } from '../../src/lib/ids'
import { createSmtpMailer } from '../../src/mail/smtp-mailer'
import type { UserStore } from '../../src/store/user-store'
import { TokenIssuer, tokenSettings } from '../../src/tokens/token-issuer'
import { assertProblem, bearer, build, PASSWORD, register, START } from '../support/app'
import { postgresStore } from '../store/pg-helper'
import { buildWithMail, forgot, isReset, isVerify, login, post, type MailContext } from '../support/mail'
import { startSmtpSink } from '../support/smtp-sink'

/** Strings the audit registered as accounts of their own, and that nodemailer then read as lists or display names. */
const HOSTILE = [
  'victim@example.com,x1.org',
  'victim@example.com;x3.org',
  '(a)victim@example.com',
  '"victim"@example.com',
  'attacker@evil.example,company.example',
  'victim@example.com victim2@example.com',
  'Victim <victim@example.com>',
  '<victim@example.com>',
  'victim@[127.0.0.1]',
  'victim@example.com\u3000x.org',
  // NFKC folds a fullwidth comma into ",": refused after normalising, not before.
  'victim@example.com\uFF0Cx1.org',
  `${'a'.repeat(65)}@example.com`,
  `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(58)}.com`
]

/** A store that counts email lookups, to show that a refused address is looked up nowhere. */
function countingLookups (store: UserStore): { store: UserStore, lookups: () => number } {
  let n = 0
  return { store: { ...store, findByEmail: (email) => { n++; return store.findByEmail(email) } }, lookups: () => n }
}

/** An access token for a user put straight into the store (as an account from before the grammar was). */
const accessTokenFor = (ctx: MailContext, user: { id: string, role: 'user' | 'admin', tokenVersion: number }): string =>
  new TokenIssuer(() => ctx.keys.ring(), tokenSettings(ctx.config.jwt), ctx.clock).issue(user, { id: newSessionId(), authTime: nowSeconds(ctx.clock), counter: 0 }).accessToken

t.test('finding 3: an address list, comment, quoted or bracketed address is refused with 400 by register and forgot-password', async (t) => {
  const ctx = await buildWithMail(t)
  await register(ctx.app, 'victim@example.com')
  await ctx.sink.next(isVerify)
  for (const email of HOSTILE) {
    const reg = await post(ctx.app, '/v1/auth/register', { email, password: PASSWORD })
    assertProblem(t, reg, 400, 'ERR_VALIDATION')
    t.same(reg.json<{ errors: unknown }>().errors, [{ path: '/email', message: 'must be an email address' }], `${JSON.stringify(email)}: names the field`)
    assertProblem(t, await forgot(ctx.app, email), 400, 'ERR_VALIDATION')
  }
  t.equal((await ctx.store.list({ limit: 100 })).length, 1, 'no account besides the victim\'s')
  await ctx.mailer.settled()
  t.equal(ctx.sink.messages.length, 1, 'no mail besides the victim\'s own verification')
  t.equal(ctx.mailer.sends, 1)
})

t.test('finding 3: login with an address outside the grammar answers the usual 401 without a lookup', async (t) => {
  const base = await build(t)
  const counted = countingLookups(base.store)
  const ctx = await build(t, { store: counted.store })
  await register(ctx.app, 'victim@example.com')
  for (const email of HOSTILE) assertProblem(t, await login(ctx.app, email, PASSWORD), 401, 'ERR_INVALID_CREDENTIALS')
  t.equal(counted.lookups(), 0, 'no store lookup')
  t.equal((await login(ctx.app, ' Victim@Example.com ', PASSWORD)).statusCode, 200, 'a valid address is looked up and logs in')
  t.equal(counted.lookups(), 1)
})

t.test('finding 3: the verification mail goes to one recipient, in the envelope and in the To header', async (t) => {
  const ctx = await buildWithMail(t)
  await register(ctx.app, "o'brien+tessera@mail.example.com")
  const mail = await ctx.sink.next(isVerify)
  t.strictSame(mail.to, ["o'brien+tessera@mail.example.com"], 'exactly one envelope recipient')
  t.equal(mail.headers.to, "o'brien+tessera@mail.example.com")
})

t.test('finding 3: forgot-password mails the stored address, as one recipient, not the one typed', async (t) => {
  // PostgreSQL matches email case-insensitively (lower() on both sides), so an address stored before
  // normalisation ("Victim@example.com") is found by the lower-case form a user types today.
  const clock = new ManualClock(START)
  const store = await postgresStore(t, clock)
  const ctx = await buildWithMail(t, { clock, store })
  await ctx.store.create({ email: 'Victim@example.com', name: null, role: 'user', passwordHash: await ctx.hasher.hash(PASSWORD) })
  t.equal((await forgot(ctx.app, 'victim@example.com')).statusCode, 202)
  const mail = await ctx.sink.next(isReset)
  t.strictSame(mail.to, ['Victim@example.com'], 'the account\'s own address, alone')
  t.equal(mail.headers.to, 'Victim@example.com')
  t.match(mail.text, /the account for Victim@example\.com\./)
})

t.test('finding 3: an address stored before the grammar is never mailed, let alone read as a list', async (t) => {
  const ctx = await buildWithMail(t)
  const legacy = await ctx.store.create({
    email: 'attacker@evil.example,company.example', name: null, role: 'user', passwordHash: await ctx.hasher.hash(PASSWORD)
  })
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/email/resend', headers: bearer(accessTokenFor(ctx, legacy)) })
  assertProblem(t, res, 400, 'ERR_VALIDATION')
  assertProblem(t, await forgot(ctx.app, legacy.email), 400, 'ERR_VALIDATION')
  await ctx.mailer.settled()
  t.equal(ctx.sink.messages.length, 0, 'nothing reached the SMTP server')
  t.equal((await ctx.store.findById(legacy.id))?.emailVerified, false)
})

t.test('finding 3: the SMTP mailer hands nodemailer one address object and refuses anything else', async (t) => {
  const sink = await startSmtpSink(t)
  const mailer = createSmtpMailer(sink.url, 'Tessera <auth@tessera.test>')
  t.teardown(() => mailer.close())
  const message = { subject: 'Hello', text: 'hi', html: '<p>hi</p>', link: 'https://app.example.com/x' }
  for (const to of ['attacker@evil.example,company.example', '(a)victim@example.com', 'Victim <victim@example.com>']) {
    await t.rejects(mailer.send({ ...message, to }), /not a single valid email address/, to)
  }
  await mailer.send({ ...message, to: 'victim@example.com' })
  const mail = await sink.next()
  t.strictSame(mail.to, ['victim@example.com'])
  t.equal(sink.messages.length, 1)
})
