// HTTP-level hardening: header size limit and request timeout on a real socket, CORS allow-list, helmet, no-store on tokens, trustProxy.
import { connect, type AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { HTTP_TIMEOUTS, MAX_HEADER_SIZE } from '../../src/server-options'
import { assertProblem, bearer, build, PASSWORD, type AuthResultBody } from '../support/app'

interface RawResponse { status: number, headers: Record<string, string>, body: string }

/** One HTTP/1.1 request over a plain socket: the header limit lives in Node's parser, which inject bypasses. */
async function rawRequest (port: number, head: string): Promise<RawResponse> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    socket.on('error', reject)
    socket.write(head + '\r\n\r\n')
  })
  const [top, ...rest] = text.split('\r\n\r\n')
  const [statusLine, ...lines] = top.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim()
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') }
}

const get = (path: string, extra: string[] = []): string =>
  [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...extra, 'Connection: close'].join('\r\n')

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

t.test(`headers over ${MAX_HEADER_SIZE} bytes get a 431 problem from the parser; the server keeps serving`, async (t) => {
  const { app } = await build(t)
  const port = await listen(app)
  t.equal(MAX_HEADER_SIZE, 8 * 1024)

  // 10 KiB is under Node's 16 KiB default: a 431 here shows our limit is the one in force.
  const big = await rawRequest(port, get('/health/live', [`X-Padding: ${'a'.repeat(10 * 1024)}`]))
  t.equal(big.status, 431)
  t.match(big.headers['content-type'], /^application\/problem\+json/)
  t.match(JSON.parse(big.body), { status: 431, code: 'ERR_HEADERS_TOO_LARGE' })

  // The same size as a Bearer token: refused before the auth hook would even look at it.
  const bigToken = await rawRequest(port, get('/v1/auth/whoami', [`Authorization: Bearer ${'A'.repeat(10 * 1024)}`]))
  t.equal(bigToken.status, 431)

  // A burst of oversized requests at once: each is answered, none takes the process down.
  const burst = await Promise.all(Array.from({ length: 20 }, () => rawRequest(port, get('/', [`X-Padding: ${'b'.repeat(12 * 1024)}`]))))
  t.same(burst.map((r) => r.status), Array(20).fill(431))

  // Other parser errors (here a header line without a colon) get the same problem+json treatment, as a 400.
  const garbled = await rawRequest(port, get('/health/live', ['Not a header line']))
  t.equal(garbled.status, 400)
  t.match(JSON.parse(garbled.body), { status: 400, code: 'ERR_BAD_REQUEST' })

  // Just under the limit is an ordinary request, and the server is still up after the refusals.
  const under = await rawRequest(port, get('/health/live', [`X-Padding: ${'c'.repeat(MAX_HEADER_SIZE - 512)}`]))
  t.equal(under.status, 200, under.body)
  t.same(JSON.parse(under.body), { status: 'ok' })
})

interface Trickled { text: string, ended: boolean }

/**
 * Complete headers announcing a 100-byte body, then one body byte every `everyMs` until the server
 * closes the socket: the slow-body attack of audit finding 5, at test speed.
 */
async function trickleBody (port: number, everyMs: number): Promise<Trickled> {
  return await new Promise<Trickled>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let ended = false
    const drip = setInterval(() => { if (socket.writable) socket.write('a') }, everyMs)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => { ended = true })
    socket.on('close', () => {
      clearInterval(drip)
      resolve({ text: Buffer.concat(chunks).toString('utf8'), ended })
    })
    socket.on('error', (err) => { clearInterval(drip); reject(err) })
    socket.write(['POST /v1/auth/login HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json', 'Content-Length: 100', '', '{"em'].join('\r\n'))
  })
}

t.test('finding 5: a request body that trickles in gets a 408 problem and the socket is closed', { timeout: 15_000 }, async (t) => {
  t.ok(HTTP_TIMEOUTS.requestMs > 0 && HTTP_TIMEOUTS.requestMs <= 60_000, 'production has a request timeout')
  t.ok(HTTP_TIMEOUTS.headersMs <= HTTP_TIMEOUTS.requestMs, 'headers get no longer than the whole request')
  // The same server as production, with its timeouts shortened so the test takes a second, not a minute.
  const { app } = await build(t, { httpTimeouts: { headersMs: 200, requestMs: 300, checkIntervalMs: 50 } })
  const port = await listen(app)

  // A byte every 50 ms keeps the socket busy, so only a timeout on the whole request can end it.
  const { text, ended } = await trickleBody(port, 50)
  t.ok(ended, 'the server ended the connection')
  const [head, body] = text.split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 408 /)
  t.match(head, /\r\nContent-Type: application\/problem\+json/i)
  t.match(head, /\r\nConnection: close/i)
  t.match(JSON.parse(body), { status: 408, code: 'ERR_REQUEST_TIMEOUT' })

  // The server keeps serving: a prompt request on a new connection is answered.
  const live = await rawRequest(port, get('/health/live'))
  t.equal(live.status, 200, live.body)
})

t.test('CORS: a preflight from an allowed origin is answered; others get no Access-Control-Allow-Origin', async (t) => {
  const { app } = await build(t, { env: { CORS_ORIGINS: 'https://app.example' } })
  const preflight = (origin: string) => app.inject({
    method: 'OPTIONS',
    url: '/v1/auth/whoami',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }
  })

  const allowed = await preflight('https://app.example')
  t.equal(allowed.statusCode, 204)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(allowed.headers['access-control-allow-headers']), /(^|, ?)Authorization(,|$)/)
  const methods = String(allowed.headers['access-control-allow-methods']).split(/, ?/)
  for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) t.ok(methods.includes(m), `allow-methods has ${m}`)
  t.match(String(allowed.headers.vary), /Origin/, 'caches keep answers per origin')

  for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'null']) {
    const refused = await preflight(origin)
    t.equal(refused.headers['access-control-allow-origin'], undefined, `no ACAO for ${origin}`)
  }

  // An actual request: the browser may read the Bearer challenge only if WWW-Authenticate is exposed.
  const actual = await app.inject({ url: '/v1/auth/whoami', headers: { origin: 'https://app.example' } })
  assertProblem(t, actual, 401, 'ERR_AUTH_REQUIRED')
  t.equal(actual.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(actual.headers['access-control-expose-headers']), /WWW-Authenticate/)
  const foreign = await app.inject({ url: '/v1/auth/whoami', headers: { origin: 'https://evil.example' } })
  t.equal(foreign.headers['access-control-allow-origin'], undefined)
})

t.test('CORS: with no CORS_ORIGINS (the default) no origin is allowed', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'OPTIONS', url: '/v1/auth/login', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' }
  })
  assertProblem(t, res, 404, 'ERR_NOT_FOUND')
  t.equal(res.headers['access-control-allow-origin'], undefined)
  const actual = await app.inject({ url: '/health/live', headers: { origin: 'https://app.example' } })
  t.equal(actual.statusCode, 200)
  t.equal(actual.headers['access-control-allow-origin'], undefined)
})

t.test('helmet headers are on JSON answers and on problems', async (t) => {
  const { app } = await build(t)
  for (const res of [await app.inject({ url: '/health/live' }), await app.inject({ url: '/v1/auth/whoami' }), await app.inject({ url: '/nowhere' })]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-powered-by'], undefined)
    t.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/)
    t.match(String(res.headers['strict-transport-security']), /max-age=\d+/)
    t.equal(res.headers['cross-origin-resource-policy'], 'same-site')
  }
})

t.test('every response carrying tokens is Cache-Control: no-store', async (t) => {
  const { app } = await build(t)
  const reg = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(reg.statusCode, 201)
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const { refreshToken, accessToken } = login.json<AuthResultBody>()
  const refresh = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
  t.equal(refresh.statusCode, 200)
  const change = await app.inject({
    method: 'PUT', url: '/v1/me/password', headers: bearer(accessToken),
    payload: { currentPassword: PASSWORD, newPassword: 'a different long passphrase' }
  })
  t.equal(change.statusCode, 200, change.body)
  for (const [name, res] of Object.entries({ reg, login, refresh, change })) {
    t.equal(res.headers['cache-control'], 'no-store', name)
    t.ok('accessToken' in res.json(), `${name} carries tokens`)
  }
})

/** Login attempts for distinct unknown accounts, so only the per-IP counter can trip. */
async function loginsFrom (app: FastifyInstance, forwardedFor: string[]): Promise<number[]> {
  const statuses: number[] = []
  for (const [i, xff] of forwardedFor.entries()) {
    const res = await app.inject({
      method: 'POST', url: '/v1/auth/login', headers: { 'x-forwarded-for': xff },
      payload: { email: `nobody${i}@example.com`, password: PASSWORD }
    })
    statuses.push(res.statusCode)
  }
  return statuses
}

t.test('TRUST_PROXY=<the proxy\'s address>: the limiter keys on the entry the proxy wrote, so two clients behind it count apart', async (t) => {
  // 127.0.0.1 is the address app.inject connects from, the proxy here.
  const { app } = await build(t, { env: { TRUST_PROXY: '127.0.0.1', RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '2/1m' } })
  t.same(await loginsFrom(app, ['203.0.113.1', '203.0.113.1', '203.0.113.2', '203.0.113.2', '203.0.113.1']), [401, 401, 401, 401, 429])
})

t.test('TRUST_PROXY=<the proxy\'s address>: entries the client wrote to the left of the proxy\'s are not believed', async (t) => {
  const { app } = await build(t, { env: { TRUST_PROXY: '127.0.0.1', RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '2/1m' } })
  t.same(await loginsFrom(app, ['198.51.100.1, 203.0.113.1', '198.51.100.2, 203.0.113.1', '198.51.100.3, 203.0.113.1']), [401, 401, 429])
})

t.test('TRUST_PROXY unset: X-Forwarded-For is ignored (a client cannot pick its own counter)', async (t) => {
  const { app } = await build(t, { env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_IP: '2/1m' } })
  t.same(await loginsFrom(app, ['203.0.113.1', '203.0.113.2', '203.0.113.3']), [401, 401, 429])
})

