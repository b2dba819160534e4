// Target servers as child processes: one at a time, on 127.0.0.1, ready when GET /health/live answers 200.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildSync } from 'esbuild'
import { ConfigSchema } from '../../src/config'
import { PROBE_SIGNAL } from '../preload/signal-file'

export const REPO_ROOT = path.resolve(__dirname, '..', '..')
/** The bench's own servers and preloads, compiled (gitignored, like Tessera's dist/). */
const BENCH_DIST = path.join(REPO_ROOT, 'bench', 'dist')

export const HEALTH_PATH = '/health/live'
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 15_000
const POLL_MS = 5
/** Output kept for error messages; a child whose pipe is never read would block on a full pipe. */
const KEEP_OUTPUT = 16 * 1024

export interface ServerSpec {
  /** Name used in logs and error messages. */
  name: string
  /**
   * Entry file, relative to the repository root, run as `node <script>`: Tessera's `dist/server.js`, or a bench
   * peer's `.ts`, which benchEntry compiles first; or an absolute path (an earlier commit's build, bench/lib/baseline.ts).
   */
  script: string
  /** Variables on top of a scrubbed copy of the bench's environment; PORT and HOST are set here. */
  env: Record<string, string>
  /** Node flags placed before the script, e.g. `--expose-gc` or `--import` of a benchEntry preload. */
  nodeArgs?: string[]
  /** Working directory of the child (a temporary directory). */
  cwd: string
}

export interface RunningServer {
  name: string
  pid: number
  port: number
  baseUrl: string
  /** Milliseconds from spawn() to the first 200 from /health/live. */
  readyMs: number
  child: ChildProcess
  output: () => string
  stop: () => Promise<void>
}

/** Bring Tessera's dist/ up to date (scripts/build.mjs: nothing to do when it is), as `npm start` does. */
export function buildTessera (): void {
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`scripts/build.mjs failed (${result.status ?? result.signal}): the bench runs Tessera's dist/`)
}

const compiledEntries = new Map<string, string>()

/**
 * A bench TypeScript entry (peer server or preload, relative to the repository root) bundled by esbuild with its
 * relative imports into bench/dist/ (packages stay external, found in node_modules). Every bench process then runs
 * plain JavaScript, as Tessera's dist/ does: start-up and memory compare like with like, and none carries tsx.
 */
export function benchEntry (rel: string): string {
  let file = compiledEntries.get(rel)
  if (file === undefined) {
    file = path.join(BENCH_DIST, rel.replace(/^bench[/\\]/, '').replace(/\.ts$/, '.js'))
    const [output] = buildSync({
      entryPoints: [path.join(REPO_ROOT, rel)], bundle: true, packages: 'external', platform: 'node', format: 'cjs', target: 'node20', write: false, logLevel: 'silent'
    }).outputFiles
    mkdirSync(path.dirname(file), { recursive: true })
    // Written aside and renamed: another bench run may be starting the same peer from this file.
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, output.contents)
    renameSync(tmp, file)
    compiledEntries.set(rel, file)
  }
  return file
}

const live = new Set<ChildProcess>()
// A bench that dies must not leave a server behind holding a port and a core.
process.on('exit', () => { for (const child of live) child.kill('SIGKILL') })

/** A free port on 127.0.0.1, found by letting the OS pick one and releasing it. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** One GET without keep-alive; resolves with the status code, or rejects on a connection error. */
export async function getStatus (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.setTimeout(2000, () => req.destroy(new Error('timeout')))
  })
}

function childEnv (env: Record<string, string>, port: number): NodeJS.ProcessEnv {
  const inherited: NodeJS.ProcessEnv = { ...process.env }
  // Tessera's settings come only from the scenario, never from the shell that runs the bench.
  for (const key of Object.keys(ConfigSchema.properties)) delete inherited[key]
  // tap's (or anyone's) loaders must not reach the servers.
  delete inherited.NODE_OPTIONS
  delete inherited.UV_THREADPOOL_SIZE
  return { ...inherited, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), ...env }
}

/** Start a server and wait until /health/live answers 200. Retries once if the port was taken meanwhile. */
export async function startServer (spec: ServerSpec): Promise<RunningServer> {
  try {
    return await startOnce(spec, await freePort())
  } catch (err) {
    if (!/EADDRINUSE/.test((err as Error).message)) throw err
    return await startOnce(spec, await freePort())
  }
}

async function startOnce (spec: ServerSpec, port: number): Promise<RunningServer> {
  const entry = spec.script.endsWith('.ts') ? benchEntry(spec.script) : path.resolve(REPO_ROOT, spec.script)
  const args = [...(spec.nodeArgs ?? []), entry]
  const t0 = performance.now()
  const child = spawn(process.execPath, args, { cwd: spec.cwd, env: childEnv(spec.env, port), stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-KEEP_OUTPUT) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('close', () => { live.delete(child); resolve() }))
  let gone = false
  void exited.then(() => { gone = true })

  const url = `http://127.0.0.1:${port}${HEALTH_PATH}`
  const deadline = t0 + START_TIMEOUT_MS
  let readyMs = -1
  while (readyMs < 0) {
    if (gone) throw new Error(`${spec.name} exited before answering ${HEALTH_PATH} (code ${child.exitCode}, signal ${child.signalCode}):\n${output}`)
    if (performance.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${spec.name} did not answer ${HEALTH_PATH} within ${START_TIMEOUT_MS} ms:\n${output}`)
    }
    try {
      const { status } = await getStatus(url)
      if (status === 200) readyMs = performance.now() - t0
    } catch {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }

  const stop = async (): Promise<void> => {
    if (gone) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
  return { name: spec.name, pid: child.pid!, port, baseUrl: `http://127.0.0.1:${port}`, readyMs, child, output: () => output, stop }
}

/** Resident set size of a process in bytes, read from /proc/<pid>/status (Linux). */
export function rssBytes (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}

/**
 * Ask a bench preload in the server for a snapshot: send PROBE_SIGNAL and wait for the preload to
 * rewrite `file` with this process's pid and a higher `seq` (see bench/preload/signal-file.ts).
 */
export async function probe<T> (server: RunningServer, file: string, timeoutMs = 10_000): Promise<T & { seq: number, pid: number }> {
  const read = (): (T & { seq: number, pid: number }) | null => {
    try {
      const snapshot = JSON.parse(readFileSync(file, 'utf8')) as T & { seq: number, pid: number }
      // An earlier server may have left its last snapshot (written at its exit) in the same file.
      return snapshot.pid === server.pid ? snapshot : null
    } catch {
      return null
    }
  }
  const before = read()?.seq ?? 0
  server.child.kill(PROBE_SIGNAL)
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const now = read()
    if (now !== null && now.seq > before) return now
    if (performance.now() > deadline) throw new Error(`${server.name}: no answer from the bench preload in ${file}\n${server.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
