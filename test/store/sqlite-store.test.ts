// Runs the store contract against SQLite in memory and on disk, plus file-only behaviour (migrations, file modes).
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
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

const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8)

/** Run `fn` under `mask`, so a result cannot depend on the umask of whoever runs the suite. */
async function withUmask<T> (mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask)
  try {
    return await fn()
  } finally {
    process.umask(previous)
  }
}

t.test('finding 8: a new database, its directories and its WAL files are owner-only, whatever the umask', async t => {
  const root = t.testdir()
  const dir = path.join(root, 'data', 'nested')
  const file = path.join(dir, 'tessera.db')
  // umask 0 is the worst case: without explicit modes everything would be world-readable (and the directories writable).
  await withUmask(0, async () => {
    const store = createSqliteStore({ path: file, clock: new ManualClock(Date.UTC(2026, 0, 1)) })
    t.teardown(() => store.close())
    await store.migrate()
    await store.create({ email: 'ada@example.io', name: 'Ada', role: 'user', passwordHash: 'h' })
  })
  // The -wal and -shm files appear only after a write: the create above made them.
  t.ok(existsSync(`${file}-wal`) && existsSync(`${file}-shm`), 'the WAL files exist')
  t.same({
    data: modeOf(path.join(root, 'data')),
    nested: modeOf(dir),
    db: modeOf(file),
    wal: modeOf(`${file}-wal`),
    shm: modeOf(`${file}-shm`)
  }, { data: '700', nested: '700', db: '600', wal: '600', shm: '600' })
})

t.test('finding 8: an existing database readable by others is tightened to 0600 at start, with a warning per file', async t => {
  const dir = t.testdir()
  const file = path.join(dir, 'tessera.db')
  chmodSync(dir, 0o755)
  // Another process holds the database open, so its -wal and -shm files exist when the store starts.
  const other = await withUmask(0o022, async () => {
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)')
    return db
  })
  t.teardown(() => other.close())
  const files = [file, `${file}-wal`, `${file}-shm`]
  t.same(files.map(modeOf), ['644', '644', '644'], 'the files start world-readable')

  const warnings: Array<{ path: string, mode: string, msg: string }> = []
  const store = createSqliteStore({
    path: file, clock: new ManualClock(Date.UTC(2026, 0, 1)), log: { warn: (fields, msg) => warnings.push({ ...fields, msg }) }
  })
  t.teardown(() => store.close())
  await store.migrate()
  await store.create({ email: 'ada@example.io', name: 'Ada', role: 'user', passwordHash: 'h' })

  t.same(files.map(modeOf), ['600', '600', '600'])
  t.same(warnings.filter(w => files.includes(w.path)).map(w => [w.path, w.mode]), files.map(f => [f, '644']))
  for (const w of warnings) t.match(w.msg, w.path, 'the message names the file')
  // An existing directory may be shared, so it is only reported, not changed.
  t.equal(modeOf(dir), '755')
  t.match(warnings.find(w => w.path === dir), { mode: '755', msg: /chmod 700/ })
  t.equal(other.prepare('SELECT x FROM t').pluck().get(), 1, 'the other connection still works')
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
