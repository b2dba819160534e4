// X-Request-Id: kept when well-formed, generated otherwise, and the same id in the header, the problem body and the log.
import { connect, type AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import t from 'tap'
import { requestIdOf, REQUEST_ID_PATTERN } from '../../src/lib/request-id'
import { loggerOptions } from '../../src/server-options'
import { assertProblem, build, testConfig } from '../support/app'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('requestIdOf keeps a well-formed id and replaces anything else', async (t) => {
  for (const kept of ['abc', '3f1c0b6e-8a0a-4c52-9b45-0f6f3c7d2a11', '01HF8X2ZKQ7Y9J3M4N5P6R7S8T', 'Root=1-5759e988'.replace('=', '.'), 'a'.repeat(128)]) {
    t.equal(requestIdOf({ headers: { 'x-request-id': kept } }), kept, `kept: ${kept.slice(0, 20)}`)
  }
  for (const refused of ['', 'a'.repeat(129), 'two words', 'quote"d', 'line\nbreak', 'tab\t', 'é', '<script>', '{"json":1}']) {
    const id = requestIdOf({ headers: { 'x-request-id': refused } })
    t.match(id, UUID, `replaced: ${JSON.stringify(refused.slice(0, 20))}`)
  }
  t.match(requestIdOf({ headers: {} }), UUID, 'generated when absent')
  t.match(requestIdOf({ headers: { 'x-request-id': ['a', 'b'] as unknown as string } }), UUID, 'two headers: neither is chosen')
  t.ok(REQUEST_ID_PATTERN.test(requestIdOf({ headers: {} })), 'a generated id passes the pattern itself (a proxy may send it back)')
})

t.test('every response carries X-Request-Id: generated, or the valid one sent', async (t) => {
  const { app } = await build(t)
  const health = await app.inject({ method: 'GET', url: '/health/live' })
  t.match(health.headers['x-request-id'], UUID, 'a success gets a generated id')
  const other = await app.inject({ method: 'GET', url: '/health/live' })
  t.not(other.headers['x-request-id'], health.headers['x-request-id'], 'a new one per request')

  const kept = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'lb-7f3a.42' } })
  t.equal(kept.headers['x-request-id'], 'lb-7f3a.42', 'a valid incoming id is kept')
  const replaced = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'x'.repeat(500) } })
  t.match(replaced.headers['x-request-id'], UUID, 'an oversized one is replaced')
})

t.test('every problem body carries the request id of its header', async (t) => {
  const { app } = await build(t)
  const cases = [
    { method: 'GET' as const, url: '/v1/me' },
    { method: 'GET' as const, url: '/no/such/route' },
    { method: 'POST' as const, url: '/v1/auth/login', payload: '{"email":', headers: { 'content-type': 'application/json' } },
    { method: 'POST' as const, url: '/v1/auth/login', payload: { email: 'nobody@example.com', password: 'not the password at all' } },
    // Refused before routing (frameworkErrors): no hook has run.
    { method: 'GET' as const, url: '/v1/users/%E0%A4%A' }
  ]
  for (const c of cases) {
    const res = await app.inject({ ...c, headers: { ...c.headers, 'x-request-id': 'bug-report-17' } })
    t.ok(res.statusCode >= 400, `${c.method} ${c.url}: ${res.statusCode}`)
    t.equal(res.headers['x-request-id'], 'bug-report-17')
    t.equal(res.json<{ requestId?: string }>().requestId, 'bug-report-17', `${c.url}: in the body`)
  }
  const generated = await app.inject({ method: 'GET', url: '/v1/me' })
  assertProblem(t, generated, 401, 'ERR_AUTH_REQUIRED')
  t.equal(generated.json<{ requestId?: string }>().requestId, generated.headers['x-request-id'], 'a generated id is the one in the body')
})

t.test('the id in an error body finds the log lines of that request', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      done()
    }
  })
  const logger = { ...loggerOptions(testConfig({ LOG_LEVEL: 'info' })) as object, stream }
  const { app } = await build(t, { logger })
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'nobody@example.com', password: 'not the password at all' } })
  const id = res.json<{ requestId: string }>().requestId
  const mine = lines.filter((l) => l.reqId === id)
  t.ok(mine.length >= 3, `incoming, refused and completed lines carry it (${mine.length})`)
  t.ok(mine.some((l) => l.msg === 'request refused' && l.code === 'ERR_INVALID_CREDENTIALS'), 'the refusal is among them')
  t.ok(mine.some((l) => l.msg === 'request completed'), 'and the completion')
})

t.test('an answer from the HTTP parser (431) carries a fresh id in its header and body', async (t) => {
  const { app } = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    socket.on('error', reject)
    socket.write(`GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: mine\r\nX-Padding: ${'p'.repeat(10_000)}\r\n\r\n`)
  })
  const header = /\r\nX-Request-Id: ([^\r]+)\r\n/i.exec(raw)?.[1]
  t.match(header, UUID, 'a new id: no header of an unparsed request is trusted')
  t.match(raw, /^HTTP\/1\.1 431 /)
  t.equal((JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { requestId?: string }).requestId, header)
})
