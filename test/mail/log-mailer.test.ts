// With no SMTP_URL (the embedded default) mail is written to the log at info with its link, and nothing secret goes with it.
import t from 'tap'
import { build, PASSWORD, register } from '../support/app'
import { captureLogs, forgot, login, NEW_PASSWORD, resetPassword, verifyEmail } from '../support/mail'

const MAIL_MSG = 'mail not sent (no SMTP_URL): written to the log instead'

async function mailLine (logs: ReturnType<typeof captureLogs>['logs'], subject: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5000
  for (;;) {
    const line = logs.lines.find((l) => l.msg === MAIL_MSG && (l.mail as { subject?: string }).subject === subject)
    if (line !== undefined) return line
    if (Date.now() > deadline) throw new Error(`no logged mail "${subject}"`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

t.test('the link is in the log at info; it works; passwords, hashes and session tokens are not logged', async (t) => {
  const { logger, logs } = captureLogs('info')
  const ctx = await build(t, { logger, env: { PUBLIC_URL: 'http://localhost:5173/' } })
  t.ok(logs.lines.some((l) => l.level === 30 && /no SMTP_URL/.test(String(l.msg))), 'start-up says where mail goes')

  const reg = await register(ctx.app, 'alice@example.com')
  const verify = await mailLine(logs, 'Confirm your email address')
  t.equal(verify.level, 30, 'info')
  const verifyLink = (verify.mail as { link: string }).link
  t.match(verify.mail, { to: 'alice@example.com' })
  t.match(verifyLink, /^http:\/\/localhost:5173\/verify-email#token=[\w-]+\.[\w-]+\.[\w-]+$/, 'PUBLIC_URL without its trailing slash')
  t.equal((await verifyEmail(ctx.app, verifyLink.split('#token=')[1])).statusCode, 204, 'the logged link works')

  await forgot(ctx.app, 'alice@example.com')
  await forgot(ctx.app, 'nobody@example.com')
  const reset = await mailLine(logs, 'Reset your password')
  const resetLink = (reset.mail as { link: string }).link
  t.match(resetLink, /^http:\/\/localhost:5173\/reset-password#token=/)
  t.equal((await resetPassword(ctx.app, resetLink.split('#token=')[1])).statusCode, 204)
  const fresh = await login(ctx.app, 'alice@example.com', NEW_PASSWORD)
  t.equal(fresh.statusCode, 200)
  await ctx.app.close()

  const mails = logs.lines.filter((l) => l.msg === MAIL_MSG)
  t.equal(mails.length, 2, 'one verification and one reset mail: nothing for the unknown address')
  t.same(Object.keys(mails[0].mail as object).sort(), ['link', 'subject', 'to'], 'only recipient, subject and link: no bodies')
  const text = logs.text()
  for (const secret of [PASSWORD, NEW_PASSWORD]) t.notOk(text.includes(secret), 'no password')
  t.notOk(text.includes('$argon2'), 'no hash')
  t.notOk(text.toLowerCase().includes('passwordhash'), 'no hash field')
  const session = fresh.json<{ accessToken: string, refreshToken: string }>()
  for (const token of [reg.accessToken, reg.refreshToken, session.accessToken, session.refreshToken]) {
    t.notOk(text.includes(token.split('.')[2]), 'no session token signature')
  }
})
