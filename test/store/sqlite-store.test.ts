// Runs the store contract against SQLite in memory and on disk, plus file-only behaviour.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import Database from 'better-sqlite3'
import { ManualClock } from '../../src/clock'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { newId } from '../../src/lib/ids'
import { storeContract } from './contract'
import { checkRevokedSessionsMigrated } from './session-contract'

const MIGRATIONS_DIR = path.join(__dirname, '../../src/store/migrations/sqlite')
const migrationFiles = readdirSync(MIGRATIONS_DIR)
  .filter(name => /^\d+_.+\.sql$/.test(name))
  .sort()

storeContract(t, 'sqlite :memory:', async clock => {
  const store = createSqliteStore({ path: ':memory:', clock })
  await store.migrate()
  return store
})

t.test('file database', async t => {
  const dir = t.testdir()
  let n = 0
  // A directory that does not exist yet, to check that the store creates it.
  storeContract(t, 'sqlite file', async clock => {
    const store = createSqliteStore({ path: path.join(dir, `db-${n++}`, 'nested', 'tessera.db'), clock })
    await store.migrate()
    return store
  })
})

t.test('a reopened file keeps its data and applies each migration once', async t => {
  const file = path.join(t.testdir(), 'tessera.db')
  const clock = new ManualClock(Date.UTC(2026, 0, 1))

  const first = createSqliteStore({ path: file, clock })
  await first.migrate()
  const user = await first.create({ email: 'ada@example.io', name: 'Ada', role: 'admin', passwordHash: 'h' })
  await first.close()

  clock.advance(3_600_000)
  const second = createSqliteStore({ path: file, clock })
  t.teardown(() => second.close())
  await second.migrate()
  t.strictSame(await second.findById(user.id), user)
  await second.close()

  const db = new Database(file, { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  const rows = db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all()
  t.strictSame(rows, migrationFiles.map(name => ({
    version: Number(name.split('_')[0]),
    name,
    applied_at: '2026-01-01T00:00:00.000Z'
  })))
})

t.test('migration 004 turns revoked_sessions rows into ended sessions, then drops the table', async t => {
  const file = path.join(t.testdir(), 'tessera.db')
  const clock = new ManualClock(Date.UTC(2026, 0, 1))
  // A database as release 003 left it: migrations 001-003 applied by hand, one logout recorded.
  const db = new Database(file)
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)')
  for (const name of migrationFiles.filter(name => Number(name.split('_')[0]) <= 3)) {
    db.exec(readFileSync(path.join(MIGRATIONS_DIR, name), 'utf8'))
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(Number(name.split('_')[0]), name, '2025-12-01T00:00:00.000Z')
  }
  const userId = newId()
  db.prepare(`INSERT INTO users (id, email, role, password_hash, created_at, updated_at)
    VALUES (?, 'ada@example.io', 'user', 'h', '2025-12-01T00:00:00.000Z', '2025-12-01T00:00:00.000Z')`).run(userId)
  const rows = { userId, sid: 'revoked-sid-0000', orphanSid: 'orphan-sid-00000', expiresAt: new Date('2026-01-10T00:00:00.000Z') }
  const revoke = db.prepare('INSERT INTO revoked_sessions (sid, user_id, expires_at) VALUES (?, ?, ?)')
  revoke.run(rows.sid, userId, rows.expiresAt.toISOString())
  revoke.run(rows.orphanSid, newId(), rows.expiresAt.toISOString())
  db.close()

  const store = createSqliteStore({ path: file, clock })
  t.teardown(() => store.close())
  await store.migrate()
  await checkRevokedSessionsMigrated(t, store, rows)
  await store.close()
  const after = new Database(file, { readonly: true })
  t.teardown(() => after.close())
  t.equal(after.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'revoked_sessions'").pluck().get(), 0, 'revoked_sessions is gone')
})
