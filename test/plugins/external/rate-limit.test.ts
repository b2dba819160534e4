// Abuse limits: per client network, per IP+account and per account, problem+json 429 with Retry-After and RateLimit
// headers, shared across instances through Redis, and degrading open when Redis is down.
import { randomInt } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { assertProblem, bearer, build, PASSWORD, register } from '../../support/app'
import { REDIS_URL, requireService } from '../../support/services'

/** A fresh client address per run, so counters from other runs (Redis keeps them) never interfere. */
const randomIp = (): string => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`

const login = (app: FastifyInstance, email: string, ip: string, password = PASSWORD) =>
  app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: ip, payload: { email, password } })
/** A login through a proxy at 127.0.0.1 (inject's own address) that reports the client as `forwardedFor`. */
const loginVia = (app: FastifyInstance, email: string, forwardedFor: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'x-forwarded-for': forwardedFor }, payload: { email, password: PASSWORD } })

const NEW_PASSWORD = 'a brand new passphrase'
const changePassword = (app: FastifyInstance, accessToken: string, ip: string, currentPassword: string) =>
  app.inject({ method: 'PUT', url: '/v1/me/password', remoteAddress: ip, headers: bearer(accessToken), payload: { currentPassword, newPassword: NEW_PASSWORD } })
const deleteMe = (app: FastifyInstance, accessToken: string, ip: string, password: string) =>
  app.inject({ method: 'DELETE', url: '/v1/me', remoteAddress: ip, headers: bearer(accessToken), payload: { password } })

t.test('login: per IP+account limit answers 429 problem+json with Retry-After and RateLimit headers', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '3/1m' } })
  await register(app)
  const ip = randomIp()
  for (let i = 0; i < 3; i++) {
    const res = await login(app, 'alice@example.com', ip, 'wrong password, attempt ' + String(i))
    t.equal(res.statusCode, 401)
    t.match(res.headers.ratelimit, new RegExp(`"login-account";r=${2 - i};t=\\d+`))
    t.match(res.headers['ratelimit-policy'], /"login-ip";q=100;w=900, "login-account";q=3;w=60/)
  }
  const limited = await login(app, 'alice@example.com', ip)
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'retry-after within the window')
  t.match(limited.headers.ratelimit, /"login-account";r=0/)

  // The right password does not get through either: the limit is about attempts.
  t.equal((await login(app, 'alice@example.com', ip)).statusCode, 429)
  // The owner on another IP is not locked out by the attacker's failures.
  t.equal((await login(app, 'alice@example.com', randomIp())).statusCode, 200)
  // The same IP may still log in to another account (the per-IP limit is far higher).
  await register(app, 'bob@example.com')
  t.equal((await login(app, 'bob@example.com', ip)).statusCode, 200)
})

t.test('login: case and spacing variants of one email share the account counter', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '2/1m' } })
  const ip = randomIp()
  t.equal((await login(app, 'carol@example.com', ip)).statusCode, 401)
  t.equal((await login(app, ' CAROL@example.com', ip)).statusCode, 401)
  t.equal((await login(app, 'Carol@Example.COM', ip)).statusCode, 429)
})

t.test('login: per IP limit covers every account', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '3/1m' } })
  const ip = randomIp()
  for (let i = 0; i < 3; i++) t.equal((await login(app, `user${i}@example.com`, ip)).statusCode, 401)
  const res = await login(app, 'someone-else@example.com', ip)
  assertProblem(t, res, 429, 'ERR_RATE_LIMITED')
  t.match(res.json().detail, /login-ip/)
})

t.test('register and refresh are limited per IP', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_REGISTER_IP: '2/1h', RATE_LIMIT_REFRESH_IP: '2/1m' } })
  const ip = randomIp()
  const reg = (email: string) => app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: ip, payload: { email, password: PASSWORD } })
  t.equal((await reg('r1@example.com')).statusCode, 201)
  const second = await reg('r2@example.com')
  t.equal(second.statusCode, 201)
  assertProblem(t, await reg('r3@example.com'), 429, 'ERR_RATE_LIMITED')
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: randomIp(), payload: { email: 'r3@example.com', password: PASSWORD } })).statusCode, 201)

  const refreshToken = second.json().refreshToken as string
  const refresh = () => app.inject({ method: 'POST', url: '/v1/auth/refresh', remoteAddress: ip, payload: { refreshToken } })
  t.equal((await refresh()).statusCode, 200)
  t.equal((await refresh()).statusCode, 200)
  const limited = await refresh()
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.equal(limited.headers['cache-control'], undefined, 'a refused refresh carries no token')
})

t.test('RATE_LIMIT=off disables every limit', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'off', RATE_LIMIT_LOGIN_ACCOUNT: '1/1m' } })
  const ip = randomIp()
  for (let i = 0; i < 4; i++) {
    const res = await login(app, 'dave@example.com', ip)
    t.equal(res.statusCode, 401)
    t.equal(res.headers.ratelimit, undefined)
  }
})

t.test('with REDIS_URL two instances share one counter', async (t) => {
  if (!await requireService(t, 'redis')) return
  const env = { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '3/1m', REDIS_URL }
  const a = await build(t, { env })
  const b = await build(t, { env })
  const ip = randomIp()
  const email = `shared-${randomInt(1e9)}@example.com`
  t.equal((await login(a.app, email, ip)).statusCode, 401)
  t.equal((await login(b.app, email, ip)).statusCode, 401)
  t.equal((await login(a.app, email, ip)).statusCode, 401)
  // The fourth attempt, on the other instance, is over the shared limit.
  assertProblem(t, await login(b.app, email, ip), 429, 'ERR_RATE_LIMITED')
})

t.test('with Redis unreachable, auth keeps working (limits fail open)', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '1/1m', REDIS_URL: 'redis://127.0.0.1:1' } })
  await register(app, 'erin@example.com')
  for (let i = 0; i < 3; i++) t.equal((await login(app, 'erin@example.com', randomIp())).statusCode, 200)
  const ip = randomIp()
  t.equal((await login(app, 'erin@example.com', ip)).statusCode, 200)
  t.equal((await login(app, 'erin@example.com', ip)).statusCode, 200, 'over the limit but not enforced without Redis')
})

t.test('finding 2: password change and account deletion share one per-account limit, from any address', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_PASSWORD_CHECK_ACCOUNT: '3/1m' } })
  const { accessToken } = await register(app, 'frank@example.com')
  // A thief holding the access token guesses from a fresh address each time, on both routes.
  t.equal((await changePassword(app, accessToken, randomIp(), 'guess one')).statusCode, 403)
  t.equal((await deleteMe(app, accessToken, randomIp(), 'guess two')).statusCode, 403)
  const third = await changePassword(app, accessToken, randomIp(), 'guess three')
  t.equal(third.statusCode, 403)
  t.match(third.headers['ratelimit-policy'], /"password-check-ip";q=30;w=900, "password-check-account";q=3;w=60/)
  t.match(third.headers.ratelimit, /"password-check-account";r=0;t=\d+/)

  const limited = await deleteMe(app, accessToken, randomIp(), PASSWORD)
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'retry-after within the window')
  t.match(limited.json().detail, /password-check-account/)
  assertProblem(t, await changePassword(app, accessToken, randomIp(), PASSWORD), 429, 'ERR_RATE_LIMITED')
  t.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(accessToken) })).statusCode, 200, 'the right password, refused, deleted nothing')
  t.equal((await login(app, 'frank@example.com', randomIp())).statusCode, 200, 'nor changed the password')

  // Another account is counted apart.
  const other = await register(app, 'grace@example.com')
  t.equal((await changePassword(app, other.accessToken, randomIp(), PASSWORD)).statusCode, 200)
})

t.test('finding 2: password checks are limited per IP across accounts', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_PASSWORD_CHECK_IP: '2/1m' } })
  const ip = randomIp()
  const tokens: string[] = []
  for (const name of ['heidi', 'ivan', 'judy']) tokens.push((await register(app, `${name}@example.com`)).accessToken)
  t.equal((await changePassword(app, tokens[0], ip, 'guess')).statusCode, 403)
  t.equal((await deleteMe(app, tokens[1], ip, 'guess')).statusCode, 403)
  const limited = await changePassword(app, tokens[2], ip, PASSWORD)
  assertProblem(t, limited, 429, 'ERR_RATE_LIMITED')
  t.match(limited.json().detail, /password-check-ip/)
  t.equal((await changePassword(app, tokens[2], randomIp(), PASSWORD)).statusCode, 200, 'the same account from another address')
})

t.test('finding 6: an address and an email cannot be recombined into another client\'s login counter', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '3/1m' } })
  await register(app, 'v@x.com')
  // Joined with ":", 2001:db8::1 + 5:v@x.com and 2001:db8::1:5 + v@x.com spelled the same key. (Finding 3's address
  // grammar now refuses "5:v@x.com" too; the keys must not depend on that.)
  for (let i = 0; i < 4; i++) t.equal((await login(app, '5:v@x.com', '2001:db8::1')).statusCode, 401)
  t.equal((await login(app, 'v@x.com', '2001:db8::1:5')).statusCode, 200, 'the owner\'s first, correct, try')
})

t.test('finding 7: spellings of one address share a per-IP counter', async (t) => {
  await t.test('IPv6 written five ways, through a trusted proxy', async (t) => {
    const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '5/1m', TRUST_PROXY: '127.0.0.1' } })
    const spellings = ['2001:db8::7', '2001:DB8::7', '2001:0db8:0000:0000:0000:0000:0000:0007', '2001:db8:0:0::7', '[2001:db8::7]:4711']
    for (const [i, spelling] of spellings.entries()) t.equal((await loginVia(app, `nobody${i}@example.com`, spelling)).statusCode, 401, spelling)
    assertProblem(t, await loginVia(app, 'one-more@example.com', '2001:db8::7'), 429, 'ERR_RATE_LIMITED')
  })
  await t.test('IPv4 and its IPv4-mapped IPv6 form (what a dual-stack socket reports)', async (t) => {
    const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '2/1m' } })
    t.equal((await login(app, 'nobody1@example.com', '203.0.113.7')).statusCode, 401)
    t.equal((await login(app, 'nobody2@example.com', '::ffff:203.0.113.7')).statusCode, 401)
    assertProblem(t, await login(app, 'nobody3@example.com', '::ffff:cb00:7107'), 429, 'ERR_RATE_LIMITED')
  })
})

t.test('finding 7: every address of one IPv6 /64 shares a per-IP counter; the next /64 has its own', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '25/1m' } })
  for (let i = 1; i <= 25; i++) {
    t.equal((await login(app, `nobody${i}@example.com`, `2001:db8:1:2:${i.toString(16)}::${i.toString(16)}`)).statusCode, 401)
  }
  assertProblem(t, await login(app, 'nobody26@example.com', '2001:db8:1:2:ffff:ffff:ffff:ffff'), 429, 'ERR_RATE_LIMITED')
  t.equal((await login(app, 'nobody27@example.com', '2001:db8:1:3::1')).statusCode, 401, 'a neighbouring /64')
})
