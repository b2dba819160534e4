// WEB_CONCURRENCY=2 on the real server: two workers share one port, a token from one is accepted by the
// other, a killed worker is replaced while requests keep succeeding, and SIGTERM to the primary stops them all.
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startServer, waitForExit, type LogLine, type ServerProcess } from '../e2e/server-process'
import { PASSWORD } from '../support/passwords'

const LISTENING = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/

function serverEnv (dir: string): Record<string, string> {
  return {
    DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    // Cheap argon2 so the test is fast; the production parameters are tested in test/lib.
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'info',
    WEB_CONCURRENCY: '2'
  }
}

interface Answer { status?: number, body?: Record<string, unknown>, error?: string }

/**
 * One request on its own connection (`agent: false`, `connection: close`): the primary hands every new
 * connection to the next worker, so a run of them reaches both.
 */
function request (port: number, method: string, urlPath: string, body?: unknown, token?: string, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string | number> = { connection: 'close' }
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(payload)
    }
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: false, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }))
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.message === 'timeout' ? 'timeout' : err.code ?? err.message }))
    req.end(payload)
  })
}

/**
 * What a load balancer does with an idempotent request when a worker dies under it: retry once on a reset, or
 * on no answer within 2 s. A connection the dying worker had accepted is reset; one the primary was still
 * handing to it is neither answered nor closed (node:cluster's round-robin keeps its copy of the socket until
 * the worker acknowledges it, which a dead worker never does), so only a client timeout ends it.
 */
async function requestRetrying (port: number, method: string, urlPath: string, body?: unknown, token?: string): Promise<Answer & { retried?: string }> {
  const first = await request(port, method, urlPath, body, token, 2000)
  if (first.error !== 'ECONNRESET' && first.error !== 'timeout') return first
  return { ...(await request(port, method, urlPath, body, token)), retried: first.error }
}

function connectOutcome (port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(3000, () => { socket.destroy(); resolve('timeout') })
    socket.on('connect', () => { socket.destroy(); resolve('connected') })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Poll `condition` every 20 ms; false if it is still false after `ms`. */
async function until (condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

/** Wait until the log has had no new line for `quietMs` (bounded by `ms`): lines lag behind the answers. */
async function settled (server: ServerProcess, quietMs = 300, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  let seen = -1
  while (seen !== server.logs.length && Date.now() < deadline) {
    seen = server.logs.length
    await sleep(quietMs)
  }
}

/** Pids of the workers that logged "Server listening", in order, with the port each one reported. */
function listeners (server: ServerProcess): Array<{ pid: number, port: number }> {
  return server.logs.flatMap((l) => {
    const match = typeof l.msg === 'string' ? LISTENING.exec(l.msg) : null
    return match === null ? [] : [{ pid: l.pid as number, port: Number(match[1]) }]
  })
}

/** Pids that logged an incoming request for `urlPath`, from the `skip`-th such line on. */
function requestPids (server: ServerProcess, urlPath: string, skip = 0): number[] {
  return server.logs
    .filter((l: LogLine) => l.msg === 'incoming request' && (l.req as { url?: string } | undefined)?.url === urlPath)
    .slice(skip)
    .map((l) => l.pid as number)
}

/** Start the cluster and wait (bounded) for both workers; in teardown, SIGKILL every worker still alive. */
async function startCluster (t: Test): Promise<{ server: ServerProcess, workers: number[] }> {
  const server = await startServer(t, serverEnv(t.testdir()))
  // Registered after startServer's teardown, so it runs first (tap runs teardowns in reverse): if the test
  // failed half way, no worker outlives it, even one the primary forked after our last look.
  t.teardown(() => {
    for (const { pid } of listeners(server)) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  })
  // startServer returns on the first worker's line; the second follows.
  t.ok(await until(() => listeners(server).length >= 2, 15_000), 'both workers log "Server listening"')
  return { server, workers: listeners(server).map((l) => l.pid) }
}

t.test('WEB_CONCURRENCY=2: one port, two workers, tokens cross workers', async (t) => {
  const { server, workers } = await startCluster(t)
  const primary = server.child.pid!

  t.equal(new Set(workers).size, 2, `two distinct worker pids (${workers.join(', ')})`)
  t.notOk(workers.includes(primary), 'the primary does not serve')
  t.same(listeners(server).map((l) => l.port), [server.port, server.port],
    `PORT=0: every worker reports the one port the primary bound (${server.port})`)
  t.equal(server.logs.filter((l) => l.msg === 'no signing key found: generated one').length, 1,
    'one worker generates the first key, the other waits for it (lock file)')

  const reg = await request(server.port, 'POST', '/v1/auth/register', { email: 'cluster@example.com', password: PASSWORD })
  t.equal(reg.status, 201, 'register')
  const login = await request(server.port, 'POST', '/v1/auth/login', { email: 'cluster@example.com', password: PASSWORD })
  t.equal(login.status, 200, 'login')
  const token = login.body?.accessToken as string
  const userId = (login.body?.user as { id: string }).id
  t.ok(await until(() => requestPids(server, '/v1/auth/login').length === 1, 2000), 'the login is in the log')
  const issuer = requestPids(server, '/v1/auth/login')[0]

  const answers: Answer[] = []
  for (let i = 0; i < 20; i++) answers.push(await request(server.port, 'GET', '/v1/auth/whoami', undefined, token))
  t.same(answers.map((a) => a.status), Array(20).fill(200), 'all 20 whoami requests answer 200')
  t.ok(answers.every((a) => a.body?.sub === userId), 'each with the user of the token')

  t.ok(await until(() => requestPids(server, '/v1/auth/whoami').length === 20, 2000), 'all 20 are in the log')
  const servedBy = requestPids(server, '/v1/auth/whoami')
  t.same(new Set(servedBy), new Set(workers), 'both workers served whoami')
  const other = servedBy.filter((pid) => pid !== issuer).length
  t.ok(other > 0, `the worker that did not issue the token accepted it ${other} times of 20`)
  t.equal(server.stderr(), '', 'nothing on stderr')
})

t.test('a worker killed with SIGKILL is replaced; requests keep succeeding; SIGTERM stops every worker', async (t) => {
  const { server, workers } = await startCluster(t)
  const primary = server.child.pid!
  const reg = await request(server.port, 'POST', '/v1/auth/register', { email: 'crash@example.com', password: PASSWORD })
  t.equal(reg.status, 201, 'register')
  const token = reg.body?.accessToken as string

  const [victim, survivor] = workers
  // Requests on fresh connections from three clients, each one every ~10 ms, from before the kill until the
  // replacement serves (paced, so that the load does not starve the booting replacement of CPU). Three, so that a
  // request the dying worker swallowed (answered by its retry 2 s later) does not leave the crash without load.
  let load = true
  const outcomes: Array<Answer & { retried?: string }> = []
  const client = async (): Promise<void> => {
    while (load) {
      outcomes.push(await requestRetrying(server.port, 'GET', '/v1/auth/whoami', undefined, token))
      await sleep(10)
    }
  }
  const loop = Promise.all([client(), client(), client()])
  await sleep(100)

  const killedAt = Date.now()
  process.kill(victim, 'SIGKILL')
  const replaced = new RegExp(`^worker ${victim} exited \\(SIGKILL\\); starting a replacement$`)
  const exitLine = (): LogLine | undefined => server.logs.find((l) => l.pid === primary && typeof l.msg === 'string' && replaced.test(l.msg))
  t.ok(await until(() => exitLine() !== undefined, 3000), 'the primary logs the dead worker and the replacement')
  t.equal(exitLine()?.level, 50, 'at error level: a crashed worker is something an operator must see')
  // 1 s of delay plus a worker's boot (config, keys, migrations): about 2.5 s on an idle 2-CPU machine,
  // up to 5 s while other test files run; the bound leaves room for that.
  const back = await until(() => listeners(server).length === 3, 10_000)
  t.ok(back, `a replacement worker listens ${Date.now() - killedAt} ms after the kill`)
  if (!back) { load = false; await loop; return }
  const replacement = listeners(server)[2].pid
  const listenLine = server.logs.find((l) => l.pid === replacement && l.msg === `Server listening at ${server.baseUrl}`)
  t.ok(listenLine !== undefined, 'on the same port')
  t.ok((listenLine?.time as number) - (exitLine()?.time as number) >= 1000, 'not before the 1 s replacement delay')
  t.notOk(isAlive(victim), 'the killed worker is gone')
  await sleep(200)
  load = false
  await loop

  t.ok(outcomes.length >= 10, `${outcomes.length} requests during the crash and the restart`)
  const failed = outcomes.filter((o) => o.status !== 200)
  t.same(failed, [], 'every request answered 200 (retried once after a reset or 2 s without an answer)')
  const retried = outcomes.flatMap((o) => o.retried === undefined ? [] : [o.retried])
  t.comment(`retried: ${retried.length === 0 ? 'none' : retried.join(', ')}`)

  await settled(server)
  const skip = requestPids(server, '/v1/auth/whoami').length
  const after: Answer[] = []
  for (let i = 0; i < 20; i++) after.push(await request(server.port, 'GET', '/v1/auth/whoami', undefined, token))
  t.same(after.map((a) => a.status), Array(20).fill(200), '20 more whoami requests answer 200')
  t.ok(await until(() => requestPids(server, '/v1/auth/whoami', skip).length >= 20, 2000), 'all 20 are in the log')
  await settled(server)
  t.equal(requestPids(server, '/v1/auth/whoami', skip).length, 20, 'and no other')
  t.same(new Set(requestPids(server, '/v1/auth/whoami', skip)), new Set([survivor, replacement]),
    'two workers answer again: the survivor and the replacement')

  t.ok(server.child.kill('SIGTERM'), 'SIGTERM to the primary')
  const { code, signal } = await waitForExit(server, 15_000)
  t.equal(code, 0, 'the primary exits with code 0')
  t.equal(signal, null, 'by its own handler, not by the signal')
  for (const pid of [survivor, replacement]) {
    t.notOk(isAlive(pid), `worker ${pid} has exited`)
    t.ok(server.logs.some((l) => l.pid === pid && l.msg === 'shutting down: draining in-flight requests'), `worker ${pid} drained (close-with-grace)`)
  }
  t.equal(await connectOutcome(server.port), 'ECONNREFUSED', 'the port is closed')
  t.equal(server.stderr(), '', 'nothing on stderr')
})

/**
 * A login whose body is only half sent: the worker has logged "incoming request" and waits for the rest,
 * so the request stays in flight for as long as the test wants. `finish()` sends the rest and resolves
 * with the status line's code, or the socket error.
 */
function halfSentLogin (port: number, email: string): { finish: () => Promise<number | string> } {
  const body = JSON.stringify({ email, password: PASSWORD })
  const socket = net.connect({ host: '127.0.0.1', port })
  let text = ''
  const answered = new Promise<number | string>((resolve) => {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    socket.setTimeout(15_000, () => { socket.destroy(); resolve('timeout') })
  })
  socket.write(`POST /v1/auth/login HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`)
  return {
    finish: () => {
      if (!socket.destroyed) socket.write(body.slice(10))
      return answered
    }
  }
}

t.test('SIGTERM within the replacement delay: no worker is forked after the stop, exit 0', async (t) => {
  const { server, workers } = await startCluster(t)
  const primary = server.child.pid!
  const [victim, survivor] = workers
  const reg = await request(server.port, 'POST', '/v1/auth/register', { email: 'delay@example.com', password: PASSWORD })
  t.equal(reg.status, 201, 'register', { reg })

  process.kill(victim, 'SIGKILL')
  const crash = new RegExp(`^worker ${victim} exited`)
  t.ok(await until(() => server.logs.some((l) => l.pid === primary && typeof l.msg === 'string' && crash.test(l.msg)), 3000),
    'the primary saw the crash and scheduled a replacement (due 1 s later)')
  // Keep the survivor draining past the replacement's due time.
  const logins = requestPids(server, '/v1/auth/login').length
  const slow = halfSentLogin(server.port, 'delay@example.com')
  t.ok(await until(() => requestPids(server, '/v1/auth/login', logins).length === 1, 3000), 'a login is in flight on the survivor')
  t.ok(server.child.kill('SIGTERM'), 'SIGTERM to the primary before the replacement is due')
  await sleep(1500)
  t.equal(await slow.finish(), 200, 'the in-flight login completes')

  const { code } = await waitForExit(server, 15_000)
  t.equal(code, 0, 'the primary exits with code 0')
  t.same(listeners(server).map((l) => l.pid), workers, 'no worker was started after the signal')
  t.notOk(isAlive(survivor), 'the survivor has exited')
  t.equal(await connectOutcome(server.port), 'ECONNREFUSED', 'the port is closed')
})

t.test('SIGTERM to every process at once (systemd stop, Ctrl-C to the group): in-flight requests complete', async (t) => {
  const { server, workers } = await startCluster(t)
  t.equal((await request(server.port, 'POST', '/v1/auth/register', { email: 'group@example.com', password: PASSWORD })).status, 201, 'register')

  const logins = requestPids(server, '/v1/auth/login').length
  const slow = halfSentLogin(server.port, 'group@example.com')
  t.ok(await until(() => requestPids(server, '/v1/auth/login', logins).length === 1, 3000), 'a login is in flight')
  // systemd's default KillMode=control-group signals every process of the unit, and the primary forwards
  // the signal too: each worker gets it twice.
  for (const pid of workers) process.kill(pid, 'SIGTERM')
  t.ok(server.child.kill('SIGTERM'), 'SIGTERM to the primary and to both workers')
  await sleep(300)
  t.equal(await slow.finish(), 200, 'the in-flight login completes')

  const { code } = await waitForExit(server, 15_000)
  t.equal(code, 0, 'the primary exits with code 0')
  for (const pid of workers) t.notOk(isAlive(pid), `worker ${pid} has exited`)
  t.equal(await connectOutcome(server.port), 'ECONNREFUSED', 'the port is closed')
  t.equal(server.stderr(), '', 'nothing on stderr')
})
