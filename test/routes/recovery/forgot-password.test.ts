// POST /v1/auth/password/forgot tells nothing: same answer and work for unknown addresses, no waiting on SMTP, a dead SMTP server is not a 500.
import { signatures } from '../../support/crypto-calls' // first: it must wrap node:crypto before fast-jwt loads
import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { createSmtpMailer } from '../../../src/mail/smtp-mailer'
import { createSqliteStore } from '../../../src/store/sqlite-store'
import type { UserStore } from '../../../src/store/user-store'
import { ManualClock } from '../../../src/clock'
import { assertProblem, build, PASSWORD, register, START } from '../../support/app'
import { buildWithMail, captureLogs, forgot, isReset, isVerify, TrackedMailer } from '../../support/mail'
import { startSmtpSink, tokenFromLink } from '../../support/smtp-sink'

/** The response as a client sees it, minus what differs on every request anyway. */
const visible = (res: { statusCode: number, headers: Record<string, unknown>, body: string }) => {
  const headers = { ...res.headers }
  delete headers.date
  // Per request, whatever the address: a new one each time.
  delete headers['x-request-id']
  return { status: res.statusCode, headers, body: res.body }
}

/** A store that counts lookups by email, to show both paths do the same reads. */
function countingStore (clock: ManualClock): { store: UserStore, lookups: () => number } {
  const real = createSqliteStore({ path: ':memory:', clock })
  let n = 0
  const store: UserStore = { ...real, findByEmail: async (email) => { n++; return await real.findByEmail(email) } }
  return { store, lookups: () => n }
}

t.test('an unknown address gets the identical 202, the same lookup and signing work, and no mail', async (t) => {
  const clock = new ManualClock(START)
  const { store, lookups } = countingStore(clock)
  const sink = await startSmtpSink(t)
  const mailer = new TrackedMailer(createSmtpMailer(sink.url, 'Tessera <no-reply@localhost>'))
  const { app } = await build(t, { clock, store, mailer, env: { SMTP_URL: sink.url } })
  await register(app, 'known@example.com')
  await sink.next(isVerify)
  await mailer.settled()
  const sendsBefore = mailer.sends

  const measure = async (email: string) => {
    const before = { lookups: lookups(), signatures: signatures.count }
    const res = await forgot(app, email)
    return { res, lookups: lookups() - before.lookups, signatures: signatures.count - before.signatures }
  }
  const unknown = await measure('nobody@example.com')
  const known = await measure('known@example.com')

  t.equal(unknown.res.statusCode, 202)
  t.strictSame(visible(unknown.res), visible(known.res), 'status, headers and body are byte for byte the same')
  t.equal(unknown.lookups, 1, 'unknown: one lookup by email')
  t.equal(known.lookups, 1, 'known: one lookup by email')
  t.equal(unknown.signatures, 1, 'unknown: one token signed (then thrown away)')
  t.equal(known.signatures, 1, 'known: one token signed')

  const mail = await sink.next(isReset)
  await mailer.settled()
  t.same(mail.to, ['known@example.com'])
  t.equal(mailer.sends - sendsBefore, 1, 'one message sent: the unknown address got none')
  t.equal(sink.messages.filter(isReset).length, 1)
})

t.test('the answer does not wait for a slow SMTP server', async (t) => {
  // The SMTP server accepts nothing until released: an answer that waited for the mail would never come.
  const ctx = await buildWithMail(t, { holdMail: true })
  await register(ctx.app, 'alice@example.com')
  await ctx.sink.held() // the confirmation mail of the registration, stuck
  const res = await forgot(ctx.app, 'alice@example.com')
  t.equal(res.statusCode, 202, 'answered while the SMTP server holds every message')
  t.equal(ctx.sink.messages.length, 0, 'nothing delivered yet when the answer came')
  ctx.sink.release()
  const mail = await ctx.sink.next(isReset, 10_000)
  t.ok(tokenFromLink(mail.text, 'reset-password').token, 'the mail arrives afterwards')
})

t.test('SMTP server down: 202 (and 201 on register), never 500; the failure is logged without the link', async (t) => {
  // A port that was just free: nothing listens, so every connection is refused.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))

  const { logger, logs } = captureLogs()
  const { app } = await build(t, { env: { SMTP_URL: `smtp://127.0.0.1:${port}` }, logger })
  const reg = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(reg.statusCode, 201, 'registration succeeds although its verification mail cannot go out')
  const res = await forgot(app, 'alice@example.com')
  t.equal(res.statusCode, 202)

  const deadline = Date.now() + 10_000
  const failures = () => logs.lines.filter((l) => l.msg === 'mail not sent: the mail server refused it or cannot be reached')
  while (failures().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const lines = failures()
  t.equal(lines.length, 2, 'both failures are logged')
  for (const line of lines) {
    t.equal(line.level, 50, 'at error level')
    t.match(line, { err: { code: 'ESOCKET', message: /ECONNREFUSED/ } }, 'nodemailer\'s socket error, with the cause in the message')
  }
  t.same(lines.map((l) => l.purpose).sort(), ['email-verification', 'password-reset'])
  t.equal(lines[0].userId, reg.json<{ user: { id: string } }>().user.id)
  const text = logs.text()
  t.notOk(text.includes('#token='), 'no link in the log')
  t.notOk(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(text), 'no token in the log')
  t.notOk(text.includes('$argon2'), 'no hash in the log')
  t.equal(logs.lines.filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 500).length, 0, 'no 500 anywhere')
})

t.test('a malformed address is a 400 (syntax says nothing about accounts); an empty body too', async (t) => {
  const ctx = await buildWithMail(t)
  for (const email of ['not-an-email', 'two@@example.com']) assertProblem(t, await forgot(ctx.app, email), 400, 'ERR_VALIDATION')
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: {} }), 400, 'ERR_VALIDATION')
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: ['a@example.com'] } }), 400, 'ERR_VALIDATION')
  await ctx.mailer.settled()
  t.equal(ctx.mailer.sends, 0)
})
