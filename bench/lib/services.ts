// The PostgreSQL and Redis the multi-instance scenarios use: the test suite's own, unless BENCH_DATABASE_URL/BENCH_REDIS_URL say otherwise.
import { randomBytes } from 'node:crypto'
import { Pool } from 'pg'

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface BenchSchema {
  /** DATABASE_URL with the schema as search_path: what the Tessera processes get. */
  databaseUrl: URL
  /** Drops the schema and closes the admin connection. */
  drop: () => Promise<void>
}

/** A schema of its own for one scenario run, so runs never share tables; fails with a clear message without PostgreSQL. */
export async function benchSchema (prefix: string): Promise<BenchSchema> {
  const admin = new Pool({ connectionString: DATABASE_URL, max: 1, connectionTimeoutMillis: 3000 })
  admin.on('error', () => {})
  try {
    await admin.query('SELECT 1')
  } catch (err) {
    await admin.end()
    throw new Error(`needs PostgreSQL at ${new URL(DATABASE_URL).host} (BENCH_DATABASE_URL): ${(err as Error).message}`, { cause: err })
  }
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  const databaseUrl = new URL(DATABASE_URL)
  databaseUrl.searchParams.set('options', `-c search_path=${schema}`)
  return {
    databaseUrl,
    drop: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {})
      await admin.end()
    }
  }
}
