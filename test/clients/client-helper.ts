// Shared by the client tests: a real Tessera process with short token lifetimes, and the CLI against its database.
import { spawn } from 'node:child_process'
import path from 'node:path'
import type { Test } from 'tap'
import { ConfigSchema } from '../../src/config'
import { PASSWORD } from '../support/passwords'
import { compiled, REPO_ROOT, startServer, type ServerProcess } from '../e2e/server-process'

export { REPO_ROOT }

export { PASSWORD }
const CLI_TIMEOUT_MS = 30_000

export interface Tessera extends ServerProcess {
  /** The environment the process was started with: the CLI uses it to reach the same database. */
  env: Record<string, string>
}

/**
 * Start Tessera in a fresh directory. CLOCK_TOLERANCE=0 makes an access token expire right at ACCESS_TOKEN_TTL,
 * so tests wait seconds, not the 30 s default leeway. Argon2 is cheap here; test/lib covers the real parameters.
 */
export async function startTessera (t: Test, env: Record<string, string> = {}): Promise<Tessera> {
  const dir = t.testdir()
  const full: Record<string, string> = {
    DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    CLOCK_TOLERANCE: '0',
    LOG_LEVEL: 'info', // startServer waits for the info line "Server listening at …"
    ...env
  }
  const server = await startServer(t, full)
  return Object.assign(server, { env: full })
}

/** `npm run cli -- users create … --role admin --password-stdin` against the server's database; resolves on exit 0. */
export async function createAdmin (tessera: Tessera, email: string, password = PASSWORD): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(ConfigSchema.properties)) delete env[key]
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, [compiled('cli/main.js'), 'users', 'create', '--email', email, '--role', 'admin', '--password-stdin'], {
    cwd: REPO_ROOT,
    env: { ...env, ...tessera.env, LOG_LEVEL: 'silent' },
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: CLI_TIMEOUT_MS
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stdin.end(password)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`users create exited with ${code}:\n${output}`)
}

/** Sleep, for the token-expiry steps (always a few seconds at most). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
