// The deployed shape: `node dist/server.js` (what `npm start` runs) with two cluster workers, no tsx anywhere, the
// server's code read from the one bundled file, the SQL migrations from dist/, and a user who registers, logs in and
// calls whoami.
import path from 'node:path'
import t from 'tap'
import { call, startServer, type ServerProcess } from './server-process'

const PASSWORD = 'correct horse battery staple'
const LISTENING = /^Server listening at /
const DIST = path.resolve('dist') + path.sep

/** Pids that logged "Server listening": the workers, once both are up. */
function listeners (server: ServerProcess): number[] {
  return server.logs.filter((l) => typeof l.msg === 'string' && LISTENING.test(l.msg)).map((l) => l.pid as number)
}

/** Every file Node loaded, by pid, from NODE_DEBUG=module,esm on stderr (CommonJS `load "…"`, ESM `Storing file://…`). */
function loadedFiles (stderr: string): Map<number, string[]> {
  const byPid = new Map<number, string[]>()
  for (const match of stderr.matchAll(/^(?:MODULE|ESM) (\d+): (?:load "([^"]+)"|Storing file:\/\/(\S+))/gm)) {
    const pid = Number(match[1])
    byPid.set(pid, [...(byPid.get(pid) ?? []), match[2] ?? match[3]])
  }
  return byPid
}

t.test('the compiled server runs without tsx, in the primary and in every worker', async (t) => {
  const dir = t.testdir()
  const server = await startServer(t, {
    DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    LOG_LEVEL: 'info',
    WEB_CONCURRENCY: '2',
    // Node reports each module it loads on stderr; workers inherit the variable.
    NODE_DEBUG: 'module,esm'
  })
  // startServer's teardown kills the primary only; its workers must not outlive a failed test.
  t.teardown(() => {
    for (const pid of listeners(server)) {
      try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
    }
  })
  const deadline = Date.now() + 15_000
  while (listeners(server).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const workers = listeners(server)
  t.equal(workers.length, 2, 'both workers listen')

  // A new database: the migrations came from dist/store/migrations, or register would fail.
  const reg = await call(server.baseUrl, 'POST', '/v1/auth/register', { email: 'built@example.com', password: PASSWORD })
  t.equal(reg.status, 201, 'register')
  const login = await call(server.baseUrl, 'POST', '/v1/auth/login', { email: 'built@example.com', password: PASSWORD })
  t.equal(login.status, 200, 'login')
  const whoami = await call(server.baseUrl, 'GET', '/v1/auth/whoami', undefined, login.json.accessToken as string)
  t.equal(whoami.status, 200, 'whoami')
  t.equal(whoami.json.sub, (login.json.user as { id: string }).id, 'whoami answers with the user who logged in')

  const loaded = loadedFiles(server.stderr())
  for (const pid of [server.child.pid!, ...workers]) {
    const files = loaded.get(pid) ?? []
    const role = pid === server.child.pid ? 'the primary' : `worker ${pid}`
    t.ok(files.some((f) => f.endsWith(`${path.sep}dist${path.sep}server.js`)), `${role} runs dist/server.js`)
    t.ok(files.some((f) => f.endsWith(`${path.sep}dist${path.sep}tessera.js`)), `${role} loads the bundle, dist/tessera.js`)
    const ownModules = files.filter((f) => f.startsWith(DIST) && !['server.js', 'tessera.js'].includes(path.relative(DIST, f)))
    t.same(ownModules, [], `${role} loads none of dist/'s separate modules: they are all in the bundle`)
    t.same(files.filter((f) => /[/\\]node_modules[/\\]tsx[/\\]/.test(f)), [], `${role} loads nothing from tsx`)
    t.same(files.filter((f) => /\.[cm]?ts$/.test(f)), [], `${role} loads no TypeScript file`)
  }
})
