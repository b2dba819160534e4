// Mail routes are rate limited per client address and per mailbox, so nobody can make Tessera flood an inbox.
import { randomInt } from 'node:crypto'
import t from 'tap'
import { assertProblem, bearer, register } from '../../support/app'
import { buildWithMail, forgot, isReset } from '../../support/mail'

const randomIp = (): string => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`

t.test('forgot-password: per address, from any number of client addresses; counted alike for unknown addresses', async (t) => {
  const ctx = await buildWithMail(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_MAIL_ADDRESS: '3/1h' } })
  await register(ctx.app, 'alice@example.com')
  for (let i = 0; i < 3; i++) {
    const res = await forgot(ctx.app, i === 1 ? 'ALICE@example.com ' : 'alice@example.com', randomIp())
    t.equal(res.statusCode, 202)
    t.match(res.headers['ratelimit-policy'], /"mail-ip";q=20;w=3600, "mail-address";q=3;w=3600/)
    t.match(res.headers.ratelimit, new RegExp(`"mail-address";r=${2 - i};t=\\d+`))
  }
  const limited = await forgot(ctx.app, 'alice@example.com', randomIp())
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 3600, 'Retry-After within the window')
  t.match(limited.json().detail, /mail-address/)

  await ctx.mailer.settled()
  t.equal(ctx.sink.messages.filter(isReset).length, 3, 'three mails reached the inbox, not four')

  // An unknown address is limited exactly the same way, so a 429 does not reveal an account either.
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await forgot(ctx.app, 'nobody@example.com', randomIp())).statusCode)
  t.same(statuses, [202, 202, 202, 429])
  // Another address is unaffected.
  t.equal((await forgot(ctx.app, 'carol@example.com', randomIp())).statusCode, 202)
})

t.test('forgot-password: per client address across mailboxes', async (t) => {
  const ctx = await buildWithMail(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_MAIL_IP: '3/1h' } })
  const ip = randomIp()
  for (let i = 0; i < 3; i++) t.equal((await forgot(ctx.app, `user${i}@example.com`, ip)).statusCode, 202)
  const limited = await forgot(ctx.app, 'someone-else@example.com', ip)
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.match(limited.json().detail, /mail-ip/)
  t.equal((await forgot(ctx.app, 'someone-else@example.com', randomIp())).statusCode, 202, 'another client is not limited')
})

t.test('resend shares the per-address counter with forgot-password', async (t) => {
  const ctx = await buildWithMail(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_MAIL_ADDRESS: '2/1h' } })
  const reg = await register(ctx.app, 'alice@example.com')
  const resend = () => ctx.app.inject({ method: 'POST', url: '/v1/auth/email/resend', headers: bearer(reg.accessToken), remoteAddress: randomIp() })
  t.equal((await forgot(ctx.app, 'alice@example.com', randomIp())).statusCode, 202)
  const first = await resend()
  t.equal(first.statusCode, 202)
  t.match(first.headers.ratelimit, /"mail-address";r=0/)
  assertProblem(t, await resend(), 429, 'ERR_RATE_LIMITED')
  assertProblem(t, await forgot(ctx.app, 'alice@example.com', randomIp()), 429, 'ERR_RATE_LIMITED')
})
