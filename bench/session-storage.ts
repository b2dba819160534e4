// Disk taken by the sessions table (issue 14): bytes per session in each store, for 10,000 sessions written
// through the store itself, each refreshed once, with typical device names and addresses.
//   node --import tsx bench/session-storage.ts [sessions]   (PostgreSQL from TEST_DATABASE_URL, else 127.0.0.1:5432/test)
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Pool } from 'pg'
import { ManualClock } from '../src/clock'
import { newSessionId } from '../src/lib/ids'
import { createPostgresStore } from '../src/store/postgres-store'
import { createSqliteStore } from '../src/store/sqlite-store'
import type { UserStore } from '../src/store/user-store'

const SESSIONS = Number(process.argv[2] ?? '10000')
const PER_USER = 4
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const START = Date.UTC(2026, 0, 1)
const DEVICES = ['Firefox 140 on macOS', 'Chrome 138 on Windows', 'Safari on iPhone', 'Tessera Android 2.3.1 (Pixel 9)', 'curl/8.7.1']

/** The i-th session's client address: three in four IPv4, one in four IPv6 (as normalised by the app). */
const ipOf = (i: number): string => i % 4 === 3
  ? `2001:db8:${(i % 65536).toString(16)}:${(i >> 4).toString(16)}::1`
  : `${100 + (i % 100)}.${(i >> 8) % 256}.${i % 256}.${(i * 7) % 254 + 1}`

async function fill (store: UserStore, clock: ManualClock): Promise<void> {
  const users = Math.ceil(SESSIONS / PER_USER)
  for (let u = 0; u < users; u++) {
    const user = await store.create({ email: `user${u}@example.io`, name: null, role: 'user', passwordHash: 'h' })
    for (let k = 0; k < PER_USER && u * PER_USER + k < SESSIONS; k++) {
      const i = u * PER_USER + k
      clock.advance(1000)
      const id = newSessionId()
      await store.createSession({
        id, userId: user.id, authTime: Math.floor(clock.now() / 1000), expiresAt: new Date(clock.now() + 90 * 86_400_000),
        deviceName: DEVICES[i % DEVICES.length], ip: ipOf(i)
      }, { maxPerUser: 10 })
      await store.rotateSession(id, 0, { ip: ipOf(i + 1) })
    }
  }
}

async function sqlite (): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'session-storage-'))
  try {
    const file = path.join(dir, 'tessera.db')
    const clock = new ManualClock(START)
    const store = createSqliteStore({ path: file, clock })
    await store.migrate()
    await fill(store, clock)
    await store.close()
    const db = new Database(file, { readonly: true })
    try {
      // dbstat: bytes of the pages each b-tree holds (the table is WITHOUT ROWID, so its key is the table).
      const sizes = db.prepare<[], { name: string, bytes: number }>(`
        SELECT name, sum(pgsize) AS bytes FROM dbstat
        WHERE name IN ('sessions', 'sessions_user_id', 'sessions_done_at') GROUP BY name`).all()
      return Object.fromEntries(sizes.map(s => [s.name, s.bytes]))
    } finally {
      db.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function postgres (): Promise<Record<string, number>> {
  const admin = new Pool({ connectionString: PG_URL, max: 1 })
  const schema = `bench_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  try {
    const url = new URL(PG_URL)
    url.searchParams.set('options', `-c search_path=${schema}`)
    const clock = new ManualClock(START)
    const store = createPostgresStore({ url: url.toString(), clock })
    await store.migrate()
    await fill(store, clock)
    await store.close()
    // Plain VACUUM: the refreshes' dead row versions become reusable space, as autovacuum would leave them.
    await admin.query(`VACUUM ANALYZE ${schema}.sessions`)
    const { rows } = await admin.query<{ name: string, bytes: string }>(`
      SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname IN ('sessions', 'sessions_pkey', 'sessions_user_id', 'sessions_done_at')
      UNION ALL SELECT 'total', pg_total_relation_size($2::regclass)`, [schema, `${schema}.sessions`])
    return Object.fromEntries(rows.map(r => [r.name, Number(r.bytes)]))
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    await admin.end()
  }
}

async function main (): Promise<void> {
  const perSession = (sizes: Record<string, number>): Record<string, string> =>
    Object.fromEntries(Object.entries(sizes).map(([name, bytes]) => [name, `${bytes} B (${(bytes / SESSIONS).toFixed(1)} B/session)`]))
  const lite = await sqlite()
  const liteTotal = Object.values(lite).reduce((a, b) => a + b, 0)
  console.log(`SQLite, ${SESSIONS} sessions:`, perSession({ ...lite, total: liteTotal }))
  console.log(`PostgreSQL, ${SESSIONS} sessions:`, perSession(await postgres()))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
