// A PostgreSQL user store in a fresh schema of the test server, dropped on teardown, for app tests that run on both stores.
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { Pool } from 'pg'
import type { Clock } from '../../src/clock'
import { createPostgresStore } from '../../src/store/postgres-store'
import type { UserStore } from '../../src/store/user-store'

export const PG_BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Unmigrated: buildApp migrates it, as in production. */
export async function postgresStore (t: Test, clock: Clock): Promise<UserStore> {
  const schema = `t_${randomBytes(8).toString('hex')}`
  const admin = new Pool({ connectionString: PG_BASE_URL, max: 1, connectionTimeoutMillis: 3000 })
  admin.on('error', () => {})
  await admin.query(`CREATE SCHEMA ${schema}`)
  const url = new URL(PG_BASE_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  const store = createPostgresStore({ url: url.toString(), clock, poolSize: 2 })
  t.teardown(async () => {
    await store.close()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  })
  return store
}
