// Starts the real server (`node dist/server.js`, as `npm start` does) in a child process for end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { ConfigSchema } from '../../src/config'

export const REPO_ROOT = path.resolve(__dirname, '..', '..')

/**
 * A file of the compiled build (`server.js`, `cli/main.js`): process tests run the code that is deployed.
 * tap's `before` (test/before.mjs, in package.json) rebuilds dist/ when src/ is newer, once per run.
 */
export function compiled (entry: string): string {
  const file = path.join(REPO_ROOT, 'dist', entry)
  if (!existsSync(file)) throw new Error(`${file} is missing: tap's \`before\` builds dist/; outside tap, run \`npm run build\``)
  return file
}

/** One line of the server's pino output (JSON), or the raw text when a line is not JSON. */
export interface LogLine {
  level?: number
  msg?: string
  [key: string]: unknown
}

export interface ServerProcess {
  child: ChildProcess
  /** e.g. http://127.0.0.1:40123 */
  baseUrl: string
  port: number
  /** Every stdout line so far, parsed. */
  logs: LogLine[]
  /** Everything written to stderr so far. */
  stderr: () => string
  /** Resolves with the exit code and signal once the process has exited and its output is read. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

const LISTENING = /^Server listening at (http:\/\/127\.0\.0\.1:(\d+))$/
/**
 * Only a guard against a server that never starts: on a loaded 2-core CI machine a start (keys, migrations, the
 * common-password list) took over 30 s while the suite's other files ran, so this is generous.
 */
const START_TIMEOUT_MS = 120_000

/**
 * Start the server with `env` on top of a clean environment and wait for Fastify's
 * "Server listening at http://127.0.0.1:PORT" log line (PORT=0 lets the OS pick a free port).
 * The process is killed in t.teardown whatever happens in the test.
 */
export async function startServer (t: Test, env: Record<string, string>): Promise<ServerProcess> {
  const inherited: NodeJS.ProcessEnv = { ...process.env }
  // Tessera's own variables come only from `env`, so a developer's shell cannot change what is tested.
  // (A ./.env file would still fill in variables the test leaves unset: dotenv never overrides.)
  for (const key of Object.keys(ConfigSchema.properties)) delete inherited[key]
  // tap's TypeScript loader must not reach the server: run it as `npm start` does.
  delete inherited.NODE_OPTIONS

  const child = spawn(process.execPath, [compiled('server.js')], {
    cwd: REPO_ROOT,
    env: { ...inherited, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })

  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': it comes after stdout is drained, so the last log lines are in `logs`.
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => { stderr += chunk })

  const logs: LogLine[] = []
  const listening = new Promise<{ baseUrl: string, port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not log "Server listening" within ${START_TIMEOUT_MS} ms\nstderr: ${stderr}`)), START_TIMEOUT_MS)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: LogLine
      try {
        entry = JSON.parse(line) as LogLine
      } catch {
        entry = { msg: line }
      }
      logs.push(entry)
      const match = typeof entry.msg === 'string' ? LISTENING.exec(entry.msg) : null
      if (match !== null) {
        clearTimeout(timer)
        resolve({ baseUrl: match[1], port: Number(match[2]) })
      }
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`server exited before listening (code ${code}, signal ${signal})\nstderr: ${stderr}`))
    })
  })

  const { baseUrl, port } = await listening
  return { child, baseUrl, port, logs, stderr: () => stderr, exited }
}

/** Wait for the process to exit, or fail after `ms`. */
export async function waitForExit (server: ServerProcess, ms: number): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`server still running ${ms} ms after the signal`)), ms)
  })
  try {
    return await Promise.race([server.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export interface Answer { status: number, json: Record<string, unknown> }

/** One JSON request to a real server process, with a timeout so a hung server fails the test. */
export async function call (base: string, method: string, urlPath: string, body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(`${base}${urlPath}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000)
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
}
