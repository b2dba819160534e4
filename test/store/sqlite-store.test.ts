// Runs the store contract against SQLite in memory and on disk, plus file-only behaviour.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import Database from 'better-sqlite3'
import { ManualClock } from '../../src/clock'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { storeContract } from './contract'

const migrationFiles = readdirSync(path.join(__dirname, '../../src/store/migrations/sqlite'))
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
