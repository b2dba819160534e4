// WEB_CONCURRENCY=2 with METRICS_PORT: the primary's one scrape sums what both workers counted.
import http from 'node:http'
import path from 'node:path'
import t from 'tap'
import { startServer, type ServerProcess } from '../e2e/server-process'
import { until } from '../support/until'

const LISTENING = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/
const METRICS_LISTENING = /^metrics listening on http:\/\/127\.0\.0\.1:(\d+)\/metrics$/

/** One request on its own connection, so the primary hands each to the next worker (round robin). */
function request (port: number, method: string, urlPath: string, body?: unknown): Promise<{ status: number, text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string | number> = { connection: 'close' }
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(payload)
    }
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: false, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(payload)
  })
}

const lines = (server: ServerProcess, pattern: RegExp): Array<{ pid: number, port: number }> => server.logs.flatMap((l) => {
  const match = typeof l.msg === 'string' ? pattern.exec(l.msg) : null
  return match === null ? [] : [{ pid: l.pid as number, port: Number(match[1]) }]
})

t.test('one scrape of the primary shows the whole cluster', async (t) => {
  const dir = t.testdir()
  const server = await startServer(t, {
    DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'info',
    WEB_CONCURRENCY: '2',
    METRICS_PORT: '0'
  })
  t.teardown(() => {
    for (const { pid } of lines(server, LISTENING)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  })
  t.ok(await until(() => lines(server, LISTENING).length >= 2, 15_000), 'both workers listen')
  t.ok(await until(() => lines(server, METRICS_LISTENING).length === 1, 5000), 'one metrics listener')
  const metrics = lines(server, METRICS_LISTENING)[0]
  t.equal(metrics.pid, server.child.pid, 'in the primary')
  t.not(metrics.port, server.port, 'on a port of its own')

  const failures = 6
  for (let i = 0; i < failures; i++) {
    const res = await request(server.port, 'POST', '/v1/auth/login', { email: `nobody${i}@example.com`, password: 'not the password at all' })
    t.equal(res.status, 401)
  }
  const servedBy = new Set(server.logs.filter((l) => l.msg === 'request refused').map((l) => l.pid))
  t.equal(servedBy.size, 2, 'both workers answered some of the logins')

  const scrape = await request(metrics.port, 'GET', '/metrics')
  t.equal(scrape.status, 200)
  t.match(scrape.text, new RegExp(`^tessera_logins_total\\{result="invalid_credentials"\\} ${failures}$`, 'm'), 'the sum over both workers')
  t.match(scrape.text, /^nodejs_heap_size_used_bytes \d/m, 'runtime metrics too')
  t.equal((await request(server.port, 'GET', '/metrics')).status, 404, 'never on the API port')
})
