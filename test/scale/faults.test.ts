// Fault injection: PostgreSQL unreachable behind a proxy we control, SIGTERM with requests in flight,
// and a registration that fails halfway. PostgreSQL from test/support/postgres.ts.
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { createPostgresStore } from '../../src/store/postgres-store'
import { OUTAGE_REPORT_INTERVAL_MS } from '../../src/store/outage-log'
import { StoreUnavailableError, type UserStore } from '../../src/store/user-store'
import { loggerOptions } from '../../src/server-options'
import { startServer, waitForExit, type LogLine, type ServerProcess } from '../e2e/server-process'
import { assertProblem, bearer, build, PASSWORD, register, START, testConfig as testConfigForLogs, type AuthResultBody } from '../support/app'
import { testDatabase } from '../support/postgres'
import { until } from '../support/until'

interface Proxy {
  port: number
  cut: () => Promise<void>
  restore: () => Promise<void>
  /** From now on, every connection (open or new) accepts bytes and never answers; unstall() forwards new ones again. */
  stall: () => void
  unstall: () => void
  close: () => Promise<void>
}

/** A TCP proxy on 127.0.0.1 to the server at `target`; cut() drops every connection and stops listening, restore() listens again on the same port. */
async function startProxy (target: string): Promise<Proxy> {
  const pg = new URL(target)
  const sockets = new Set<net.Socket>()
  const pairs = new Set<{ client: net.Socket, upstream: net.Socket }>()
  let stalled = false
  const track = (s: net.Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  }
  // Swallow what the client sends and forward nothing back: a database that has stopped answering, not one that is gone.
  const blackhole = (client: net.Socket): void => {
    client.unpipe()
    client.on('data', () => {})
  }
  const server = net.createServer((client) => {
    track(client)
    if (stalled) { blackhole(client); return }
    const upstream = net.connect({ host: pg.hostname === 'localhost' ? '127.0.0.1' : pg.hostname, port: Number(pg.port || 5432) })
    track(upstream)
    const pair = { client, upstream }
    pairs.add(pair)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => { upstream.destroy(); pairs.delete(pair) })
    upstream.on('close', () => client.destroy())
  })
  const stall = (): void => {
    stalled = true
    for (const { client, upstream } of pairs) {
      upstream.unpipe()
      blackhole(client)
    }
    pairs.clear()
  }
  const listen = (port: number): Promise<void> => new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const stop = (): Promise<void> => new Promise((resolve) => {
    for (const s of sockets) s.destroy()
    if (!server.listening) { resolve(); return }
    server.close(() => resolve())
  })
  await listen(0)
  const port = (server.address() as net.AddressInfo).port
  return { port, cut: stop, restore: () => listen(port), stall, unstall: () => { stalled = false }, close: stop }
}

t.test('faults', async (t) => {
  const db = await testDatabase(t)
  if (db === null) return
  const { admin } = db

  t.test('database unreachable: 503 with Retry-After, stateless verification goes on, recovery without restart', async (t) => {
    const schema = await db.freshSchema(t)
    const proxy = await startProxy(db.url)
    t.teardown(() => proxy.close())
    const clock = new ManualClock(START)
    const store = createPostgresStore({ url: schema.urlVia(proxy.port), clock, connectTimeoutMs: 500, statementTimeoutMs: 1000 })
    // build() runs store.migrate() through buildApp and closes the app (and the store) in teardown.
    const { app } = await build(t, { clock, store })

    const before = await register(app, 'cut@example.com')
    t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200, 'ready through the proxy')

    await proxy.cut()

    // How soon is the store's connect timeout (tested in postgres-store.test.ts); here: a 503, never a hang or a 500.
    assertProblem(t, await app.inject({ method: 'GET', url: '/health/ready' }), 503, 'ERR_SERVICE_UNAVAILABLE')

    const attempts = [
      { name: 'register', url: '/v1/auth/register', payload: { email: 'new@example.com', password: PASSWORD } },
      { name: 'login', url: '/v1/auth/login', payload: { email: 'cut@example.com', password: PASSWORD } },
      { name: 'refresh', url: '/v1/auth/refresh', payload: { refreshToken: before.refreshToken } }
    ]
    for (const { name, url, payload } of attempts) {
      const res = await app.inject({ method: 'POST', url, payload })
      assertProblem(t, res, 503, 'ERR_SERVICE_UNAVAILABLE')
      t.match(res.headers['retry-after'], /^\d+$/, `${name}: Retry-After in seconds`)
    }

    const whoami = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(before.accessToken) })
    t.equal(whoami.statusCode, 200, 'whoami with a token from before the cut needs no database')

    await proxy.restore()
    let status = 0
    // Until the pool reconnects; the bound only keeps a broken build from hanging the run.
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'cut@example.com', password: PASSWORD } })
      status = res.statusCode
      if (status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.equal(status, 200, 'login works again after the restore, without restarting the app')
  })

  t.test('a database cut is told in a handful of log lines: start, a count while it lasts, end; no error, no stack', async (t) => {
    const schema = await db.freshSchema(t)
    const proxy = await startProxy(db.url)
    t.teardown(() => proxy.close())
    const clock = new ManualClock(START)
    const { logger, lines } = capturedLogger('info')
    const store = createPostgresStore({ url: schema.urlVia(proxy.port), clock, connectTimeoutMs: 500, statementTimeoutMs: 1000 })
    const { app } = await build(t, { clock, store, logger })
    const before = await register(app, 'quiet@example.com')
    const from = lines.length

    await proxy.cut()
    const attempts = [
      { url: '/v1/auth/register', payload: { email: 'new@example.com', password: PASSWORD } },
      { url: '/v1/auth/login', payload: { email: 'quiet@example.com', password: PASSWORD } },
      { url: '/v1/auth/refresh', payload: { refreshToken: before.refreshToken } }
    ]
    const refuse = async (rounds: number): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        for (const { url, payload } of attempts) assertProblem(t, await app.inject({ method: 'POST', url, payload }), 503, 'ERR_SERVICE_UNAVAILABLE')
      }
    }
    await refuse(4)
    clock.advance(OUTAGE_REPORT_INTERVAL_MS)
    await refuse(3)
    await proxy.restore()
    t.ok(await until(async () => (await app.inject({ method: 'POST', url: '/v1/auth/login', payload: attempts[1].payload })).statusCode === 200),
      'login works again after the restore')

    const outage = lines.slice(from)
    const at = (level: number): LogRecord[] => outage.filter((l) => l.level === level)
    t.same(at(50), [], 'no line at error level')
    t.same(at(60), [], 'nor fatal')
    t.notOk(outage.some((l) => JSON.stringify(l).includes('"stack"')), 'no line carries a stack')
    t.same(at(40).map((l) => l.msg), ['store unavailable: answering 503 until it is back', 'store still unavailable', 'store available again'],
      'under LOG_LEVEL=warn: three lines tell the story')
    const [start, still, end] = at(40)
    t.match(start, { cause: /^E[A-Z]+$/ }, 'the start names the cause')
    // A request stops at its first failed store call; a sign-in may start a background one too.
    t.ok(typeof still.failedCalls === 'number' && still.failedCalls >= 13, 'the count line says how many store calls failed (at least the 13 requests so far)')
    t.ok(typeof end.failedCalls === 'number' && end.failedCalls >= 21, 'the end line counts every one')
    t.ok(typeof end.outageMs === 'number' && end.outageMs >= OUTAGE_REPORT_INTERVAL_MS, 'and says how long the outage lasted')
    const refusedLines = outage.filter((l) => l.msg === 'request refused' && l.code === 'ERR_SERVICE_UNAVAILABLE')
    t.ok(refusedLines.length >= 21 && refusedLines.every((l) => l.level === 30), 'each 503 is one info line without a stack, as a 4xx is')
  })

  t.test('database stalled (accepts bytes, never answers): 503 at the timeout, not a hang; recovery without restart', async (t) => {
    const schema = await db.freshSchema(t)
    const proxy = await startProxy(db.url)
    t.teardown(() => proxy.close())
    const clock = new ManualClock(START)
    const { logger, lines } = capturedLogger('warn')
    const store = createPostgresStore({ url: schema.urlVia(proxy.port), clock, connectTimeoutMs: 500, statementTimeoutMs: 500 })
    const { app } = await build(t, { clock, store, logger })
    const before = await register(app, 'stall@example.com')

    proxy.stall()
    const login = { email: 'stall@example.com', password: PASSWORD }
    // Open connections time out on their query (statement timeout + 1 s), new ones on connecting: 503 either way.
    for (const payload of [login, login, { email: 'other@example.com', password: PASSWORD }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload })
      assertProblem(t, res, 503, 'ERR_SERVICE_UNAVAILABLE')
      t.match(res.headers['retry-after'], /^\d+$/, 'Retry-After in seconds')
    }
    assertProblem(t, await app.inject({ method: 'GET', url: '/health/ready' }), 503, 'ERR_SERVICE_UNAVAILABLE')
    const whoami = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(before.accessToken) })
    t.equal(whoami.statusCode, 200, 'whoami with a token from before the stall needs no database')

    proxy.unstall()
    t.ok(await until(async () => (await app.inject({ method: 'POST', url: '/v1/auth/login', payload: login })).statusCode === 200),
      'login works again once the database answers, without restarting the app')
    t.same(lines.map((l) => [l.level, l.msg]), [[40, 'store unavailable: answering 503 until it is back'], [40, 'store available again']],
      'under LOG_LEVEL=warn, the stall is two lines')
  })

  t.test('a registration failing at create leaves no account; the same email registers later', async (t) => {
    const schema = await db.freshSchema(t)
    const clock = new ManualClock(START)
    const real = createPostgresStore({ url: schema.url, clock })
    let failing = true
    let createCalls = 0
    const store: UserStore = {
      ...real,
      create: async (user) => {
        createCalls++
        if (failing) throw new StoreUnavailableError({ cause: new Error('injected') })
        return real.create(user)
      }
    }
    const { app } = await build(t, { clock, store })

    const res = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'half@example.com', password: PASSWORD } })
    assertProblem(t, res, 503, 'ERR_SERVICE_UNAVAILABLE')
    t.ok(res.headers['retry-after'], 'Retry-After set')
    t.equal(createCalls, 1, 'the failure came from create')
    t.equal(await real.findByEmail('half@example.com'), null, 'no half-created account')
    const count = await admin.query(`SELECT count(*)::int AS n FROM ${schema.name}.users`)
    t.equal(count.rows[0].n, 0, 'the users table is empty')

    failing = false
    const ok: AuthResultBody = await register(app, 'half@example.com')
    t.equal(ok.user.email, 'half@example.com', 'the same email registers once the store works')
    t.ok(await real.findByEmail('half@example.com'), 'and is stored')
  })
})

interface LogRecord { level: number, msg: string, [field: string]: unknown }

/** The production logger options (redaction, serializers) at `level`, writing into an array. */
function capturedLogger (level: string): { logger: object, lines: LogRecord[] } {
  const lines: LogRecord[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogRecord)
      done()
    }
  })
  return { logger: { ...loggerOptions(testConfigForLogs()) as object, level, stream }, lines }
}

t.test('draining: a request on a keep-alive connection opened before close gets our 503 problem, Retry-After and Connection: close', async (t) => {
  const { logger, lines } = capturedLogger('info')
  const { app } = await build(t, { logger })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as net.AddressInfo).port
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())

  interface Answer { status: number, headers: http.IncomingHttpHeaders, body: string, reusedSocket: boolean }
  /** A request through the keep-alive agent; `hold` keeps its last body byte back until finish(). */
  const send = (urlPath: string, body?: unknown, hold = false): { answer: Promise<Answer>, finish: () => void } => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    let finish = (): void => {}
    const answer = new Promise<Answer>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port, path: urlPath, agent, method: payload === undefined ? 'GET' : 'POST',
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }
      }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { text += chunk })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, reusedSocket: req.reusedSocket }))
      })
      req.on('error', reject)
      if (payload === undefined) req.end()
      else if (!hold) req.end(payload)
      else {
        req.write(payload.subarray(0, -1))
        finish = () => { req.end(payload.subarray(-1)) }
      }
    })
    return { answer, finish: () => finish() }
  }

  const first = await send('/health/live').answer
  t.equal(first.headers.connection, 'keep-alive', 'the connection is kept alive')
  const seen = lines.filter((l) => l.msg === 'incoming request').length
  const held = send('/v1/auth/register', { email: 'drain@example.com', password: PASSWORD }, true)
  t.ok(await until(() => lines.filter((l) => l.msg === 'incoming request').length > seen), 'the held registration is in flight')

  const closing = app.close()
  t.ok(await until(() => !app.server.listening), 'the listener closes while the registration is in flight')
  held.finish()
  const registered = await held.answer
  t.equal(registered.status, 201, 'the request in flight before the close is answered normally')

  const late = await send('/health/live').answer
  t.ok(late.reusedSocket, 'the next request goes out on the same, already open connection')
  t.equal(late.status, 503, '503 while draining')
  t.match(late.headers['content-type'], /^application\/problem\+json/, 'as problem+json, not Fastify\'s own body')
  t.match(JSON.parse(late.body), { status: 503, code: 'ERR_SERVICE_UNAVAILABLE', type: 'urn:tessera:problem:service-unavailable' })
  t.match(late.headers['retry-after'], /^\d+$/, 'with Retry-After')
  t.equal(late.headers.connection, 'close', 'and Connection: close, so the client retries on a new connection')
  await closing
  t.notOk(lines.some((l) => l.level >= 50), 'draining logs no error')
})

/** Resolves once the server has logged a line `matches`, polling its parsed stdout. */
async function logged (server: ServerProcess, matches: (line: LogLine) => boolean): Promise<void> {
  while (!server.logs.some(matches)) {
    if (server.child.exitCode !== null) throw new Error(`the server exited first; stderr: ${server.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A request written all but its last body byte: the server has it in hand and cannot answer until finish() sends the rest. */
function heldRequest (port: number, urlPath: string, body: unknown): { finish: () => void, response: Promise<string> } {
  const payload = Buffer.from(JSON.stringify(body))
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.write(`POST ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`)
  socket.write(payload.subarray(0, -1))
  const response = new Promise<string>((resolve, reject) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      text += chunk
      const [head, body = ''] = text.split('\r\n\r\n')
      const length = /\r\ncontent-length: (\d+)/i.exec(head)
      if (length !== null && Buffer.byteLength(body) >= Number(length[1])) {
        socket.destroy()
        resolve(text)
      }
    })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  // write, not end: a client's FIN makes Node abort the request it has not answered yet.
  return { finish: () => socket.write(payload.subarray(-1)), response }
}

function connectOutcome (port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(3000, () => { socket.destroy(); resolve('timeout') })
    socket.on('connect', () => { socket.destroy(); resolve('connected') })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

t.test('SIGTERM with a login in flight: new connections refused, the login answered 200, then exit 0', async (t: Test) => {
  const dir = t.testdir()
  const server = await startServer(t, {
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'info',
    WEB_CONCURRENCY: '1'
  })
  const reg = await fetch(`${server.baseUrl}/v1/auth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'drain@example.com', password: PASSWORD })
  })
  t.equal(reg.status, 201, 'registered')

  const before = server.logs.filter((l) => l.msg === 'incoming request').length
  const login = heldRequest(server.port, '/v1/auth/login', { email: 'drain@example.com', password: PASSWORD })
  // In flight, by construction: the server has logged the request and is waiting for the rest of its body.
  await logged(server, () => server.logs.filter((l) => l.msg === 'incoming request').length > before)

  t.ok(server.child.kill('SIGTERM'), 'SIGTERM sent')
  await logged(server, (l) => l.msg === 'shutting down: draining in-flight requests')
  // The log line comes just before app.close() stops the listener: on a busy machine a connection can slip in
  // between, or sit in the accept queue as the listener closes (the kernel then resets it). Ask again (bounded) until
  // the listener is closed; it must close while the login is still in flight.
  const raced = (o: string): boolean => o === 'connected' || o === 'ECONNRESET'
  let outcome = await connectOutcome(server.port)
  for (let attempt = 0; raced(outcome) && attempt < 50; attempt++) outcome = await connectOutcome(server.port)
  t.equal(outcome, 'ECONNREFUSED', 'while draining, a new connection is refused')
  t.equal(server.child.exitCode, null, 'and the process waits for the login')

  login.finish()
  const answer = await login.response
  t.match(answer, /^HTTP\/1\.1 200 /, 'the login sent before the signal is answered 200')
  t.match(answer, /"accessToken":"[\w-]+\.[\w-]+\.[\w-]+"/, 'with its tokens')

  const { code, signal } = await waitForExit(server, 15_000)
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null, 'the handler ran (not killed by the signal)')
})
