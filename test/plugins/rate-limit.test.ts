// Abuse limits: per IP and per IP+account, problem+json 429 with Retry-After and RateLimit headers,
// shared across instances through Redis, and degrading open when Redis is down.
import { randomInt } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { assertProblem, build, PASSWORD, register } from '../support/app'
import { REDIS_URL, requireService } from '../support/services'

/** A fresh client address per run, so counters from other runs (Redis keeps them) never interfere. */
const randomIp = (): string => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`

const login = (app: FastifyInstance, email: string, ip: string, password = PASSWORD) =>
  app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: ip, payload: { email, password } })

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
