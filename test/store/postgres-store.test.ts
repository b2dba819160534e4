// Runs the store contract against PostgreSQL, each store in its own schema, plus PostgreSQL-only behaviour.
// PostgreSQL from test/support/postgres.ts (a local server, TEST_DATABASE_URL, or one started from npm).
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { createStore } from '../../src/store/create-store'
import { createPostgresStore } from '../../src/store/postgres-store'
import type { PostgresStoreOptions } from '../../src/store/postgres-store'
import { EmailTakenError, StoreUnavailableError } from '../../src/store/user-store'
import type { NewUser, UserStore } from '../../src/store/user-store'
import { newId } from '../../src/lib/ids'
import { storeContract } from './contract'
import { checkRevokedSessionsMigrated } from './session-contract'
import { testDatabase } from '../support/postgres'

const START = Date.UTC(2026, 0, 1, 12, 0, 0, 123)

const MIGRATIONS_DIR = path.join(__dirname, '../../src/store/migrations/postgres')
const migrationFiles = readdirSync(MIGRATIONS_DIR)
  .filter(name => /^\d+_.+\.sql$/.test(name))
  .sort()

const newUser = (overrides: Partial<NewUser> = {}): NewUser => ({
  email: 'ada@example.io', name: 'Ada', role: 'user', passwordHash: 'hash', ...overrides
})

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection') }, (err: unknown) => err)

/** A server that accepts connections and never answers: a database that hangs instead of refusing. */
async function silentServer (t: Test): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  return (server.address() as net.AddressInfo).port
}

t.test('postgres', async t => {
  const db = await testDatabase(t)
  if (db === null) return
  const { admin } = db
  t.comment(`PostgreSQL: ${db.source}`)

  const storeIn = (url: string, clock: ManualClock, options: Partial<PostgresStoreOptions> = {}): UserStore =>
    createPostgresStore({ url, clock, ...options })
  const migratedStore = async (t: Test, clock: ManualClock, options: Partial<PostgresStoreOptions> = {}) => {
    const schema = await db.freshSchema(t)
    const store = storeIn(schema.url, clock, options)
    t.teardown(() => store.close())
    await store.migrate()
    return { schema: schema.name, url: schema.url, store }
  }

  // The contract closes its stores itself; their schemas go when this file's tests end.
  storeContract(t, 'postgres', async clock => {
    const store = storeIn((await db.freshSchema(t)).url, clock)
    await store.migrate()
    return store
  })

  t.test('8 stores migrating one fresh schema at once apply each migration exactly once', async t => {
    const { name: schema, url } = await db.freshSchema(t)
    const clock = new ManualClock(START)
    const stores = Array.from({ length: 8 }, () => storeIn(url, clock, { poolSize: 2 }))
    t.teardown(() => Promise.all(stores.map(store => store.close())))
    // Connect first, so the migrations race each other rather than the connection handshakes.
    await Promise.all(stores.map(store => store.ping()))
    const results = await Promise.allSettled(stores.map(store => store.migrate()))
    t.strictSame(results.filter(r => r.status === 'rejected'), [], 'every migrate() resolves')

    const { rows } = await admin.query(`SELECT version, name, applied_at FROM ${schema}.schema_migrations ORDER BY version`)
    t.strictSame(rows, migrationFiles.map(name => ({
      version: Number(name.split('_')[0]),
      name,
      applied_at: new Date(START)
    })))
    const { rows: tables } = await admin.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema])
    t.strictSame(tables.map(r => r.table_name), ['mfa_recovery_codes', 'schema_migrations', 'security_events', 'sessions', 'users'])

    // And later runs (a restart) apply nothing again.
    clock.advance(60_000)
    await Promise.all(stores.map(store => store.migrate()))
    const { rows: again } = await admin.query(`SELECT applied_at FROM ${schema}.schema_migrations`)
    t.ok(again.every(r => r.applied_at.getTime() === START), 'records untouched')
  })

  t.test('20 concurrent registrations of one email through 4 instances yield exactly one account', async t => {
    const { url, store } = await migratedStore(t, new ManualClock(START))
    const others = Array.from({ length: 3 }, () => storeIn(url, new ManualClock(START)))
    t.teardown(() => Promise.all(others.map(other => other.close())))
    const instances = [store, ...others]
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
      instances[i % instances.length].create(newUser({ email: i % 2 === 0 ? 'race@example.io' : 'RACE@Example.io' }))))
    const rejected = results.flatMap(r => r.status === 'rejected' ? [r.reason] : [])
    t.equal(results.filter(r => r.status === 'fulfilled').length, 1)
    t.equal(rejected.length, 19)
    t.ok(rejected.every(reason => reason instanceof EmailTakenError), 'every loser gets EmailTakenError')
    t.equal((await store.list({ limit: 100 })).length, 1)
  })

  t.test('findByEmail ignores case, like the unique index', async t => {
    const { store } = await migratedStore(t, new ManualClock(START))
    const user = await store.create(newUser())
    t.strictSame(await store.findByEmail('ADA@Example.IO'), user)
  })

  t.test('the schema: C-collated ids, case-insensitive email index, typed columns', async t => {
    const { schema, store } = await migratedStore(t, new ManualClock(START))
    const { rows: columns } = await admin.query(`
      SELECT column_name, data_type, is_nullable, collation_name FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = 'users' ORDER BY ordinal_position`, [schema])
    t.match(columns, [
      { column_name: 'id', data_type: 'text', collation_name: 'C' },
      { column_name: 'email', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'name', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'role', data_type: 'text' },
      { column_name: 'disabled', data_type: 'boolean' },
      { column_name: 'password_hash', data_type: 'text' },
      { column_name: 'token_version', data_type: 'integer' },
      { column_name: 'created_at', data_type: 'timestamp with time zone' },
      { column_name: 'updated_at', data_type: 'timestamp with time zone' }
    ])
    const { rows: [index] } = await admin.query(
      'SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'users_email_key'])
    t.match(index?.indexdef, /UNIQUE INDEX users_email_key .*lower\(email\)/)
    // Ids that a locale collation would order differently (digits vs letters, case) still page bytewise.
    await admin.query(`INSERT INTO ${schema}.users (id, email, role, password_hash, created_at, updated_at)
      VALUES ('b', 'b@x.io', 'user', 'h', now(), now()), ('A', 'a@x.io', 'user', 'h', now(), now()),
             ('a', 'c@x.io', 'user', 'h', now(), now()), ('_', 'd@x.io', 'user', 'h', now(), now())`)
    t.strictSame((await store.list({ limit: 10 })).map(u => u.id), ['A', '_', 'a', 'b'])
    await t.rejects(admin.query(`INSERT INTO ${schema}.users (id, email, role, password_hash, created_at, updated_at)
      VALUES ('z', 'z@x.io', 'root', 'h', now(), now())`), { code: '23514' }, 'role is checked')
  })

  t.test('an unreachable database fails fast with StoreUnavailableError', async t => {
    const store = createPostgresStore({
      url: 'postgres://postgres@127.0.0.1:1/test', clock: new ManualClock(START), connectTimeoutMs: 1000
    })
    t.teardown(() => store.close())
    for (const [method, call] of [
      ['ping', () => store.ping()],
      ['findByEmail', () => store.findByEmail('ada@example.io')],
      ['migrate', () => store.migrate()]
    ] as const) {
      const err = await rejection(call())
      t.type(err, StoreUnavailableError, method)
      t.match(err, { code: 'ERR_STORE_UNAVAILABLE', cause: { code: 'ECONNREFUSED' } }, method)
    }
  })

  t.test('a database that accepts but never answers fails after connectTimeoutMs, never hangs', async t => {
    const port = await silentServer(t)
    const store = createPostgresStore({
      url: `postgres://postgres@127.0.0.1:${port}/test`, clock: new ManualClock(START), connectTimeoutMs: 300
    })
    t.teardown(() => store.close())
    for (const [method, call] of [
      ['ping', () => store.ping()],
      ['findByEmail', () => store.findByEmail('ada@example.io')]
    ] as const) {
      const started = Date.now()
      const err = await rejection(call())
      const elapsed = Date.now() - started
      t.type(err, StoreUnavailableError, method)
      t.match(err, { cause: { message: /timeout/ } }, method)
      // A lower bound only: a busy machine makes it later, never earlier. It is the timeout that ended the wait.
      t.ok(elapsed >= 250, `${method} failed after ${elapsed} ms, not before the 300 ms timeout`)
    }
  })

  t.test('a statement over statement_timeout rejects with StoreUnavailableError and the store recovers', async t => {
    const { schema, store } = await migratedStore(t, new ManualClock(START), { statementTimeoutMs: 200 })
    const user = await store.create(newUser())
    const locker = await admin.connect()
    t.teardown(() => locker.release())
    await locker.query('BEGIN')
    await locker.query(`LOCK TABLE ${schema}.users IN ACCESS EXCLUSIVE MODE`)
    const err = await rejection(store.findById(user.id))
    await locker.query('ROLLBACK')
    t.type(err, StoreUnavailableError)
    t.match(err, { cause: { code: '57014' } }, 'canceled by statement_timeout, not by the lock ending')
    t.strictSame(await store.findById(user.id), user, 'the connection is usable again')
  })

  t.test('idle connections killed by the server neither crash the process nor break the store', async t => {
    const { schema, store } = await migratedStore(t, new ManualClock(START), { poolSize: 3 })
    // Leave three idle connections in the pool.
    await Promise.all([store.ping(), store.ping(), store.ping()])
    const { rows } = await admin.query(
      'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1', [schema])
    t.ok(rows.length > 0 && rows.every(r => r.killed === true), `terminated ${rows.length} backends`)
    // The pool hears of each death as an idle-client 'error' event; unhandled, it would throw. Each backend sends its
    // termination notice before it leaves pg_stat_activity, so once all have left, the events are on their way here.
    const alive = async (): Promise<number> =>
      (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [schema])).rows[0].n
    while (await alive() > 0) await new Promise(resolve => setImmediate(resolve))
    // A call may still draw a dead connection whose notice the pool has not read yet (it arrives on the socket, and
    // is not ordered with pg_stat_activity): that call is a StoreUnavailableError (a 503), never a crash, and at
    // most one per killed connection before the pool has replaced them all.
    const refused: unknown[] = []
    for (let attempt = 0; attempt <= 3; attempt++) {
      try {
        await store.ping()
        break
      } catch (err) {
        refused.push(err)
      }
    }
    t.ok(refused.every(err => err instanceof StoreUnavailableError), `calls on dead connections: StoreUnavailableError (${refused.length})`)
    t.ok(refused.length < 4, 'new connections replace the dead ones')
    t.equal(await store.ping(), undefined)
    t.equal((await store.list({ limit: 1 })).length, 0)
  })

  t.test('migration 004 turns revoked_sessions rows into ended sessions, then drops the table', async t => {
    const { name: schema, url } = await db.freshSchema(t)
    // A schema as release 003 left it: migrations 001-003 applied by hand, one logout recorded.
    const client = await admin.connect()
    try {
      await client.query(`SET search_path = ${schema}`)
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)')
      for (const name of migrationFiles.filter(name => Number(name.split('_')[0]) <= 3)) {
        await client.query(readFileSync(path.join(MIGRATIONS_DIR, name), 'utf8'))
        await client.query('INSERT INTO schema_migrations VALUES ($1, $2, now())', [Number(name.split('_')[0]), name])
      }
      const userId = newId()
      await client.query(`INSERT INTO users (id, email, role, password_hash, created_at, updated_at)
        VALUES ($1, 'ada@example.io', 'user', 'h', now(), now())`, [userId])
      const rows = { userId, sid: 'revoked-sid-0000', orphanSid: 'orphan-sid-00000', expiresAt: new Date('2026-01-10T00:00:00.000Z') }
      await client.query('INSERT INTO revoked_sessions (sid, user_id, expires_at) VALUES ($1, $2, $4), ($3, $5, $4)',
        [rows.sid, userId, rows.orphanSid, rows.expiresAt.toISOString(), newId()])
      await client.query('RESET search_path')

      const store = storeIn(url, new ManualClock(START))
      t.teardown(() => store.close())
      await store.migrate()
      await checkRevokedSessionsMigrated(t, store, rows)
      const { rows: [table] } = await admin.query('SELECT to_regclass($1) AS oid', [`${schema}.revoked_sessions`])
      t.equal(table.oid, null, 'revoked_sessions is gone')
    } finally {
      client.release()
    }
  })

  t.test('createStore picks PostgreSQL for postgres:// and postgresql:// URLs', async t => {
    const rest = (await db.freshSchema(t)).url.replace(/^postgres(ql)?:/, '')
    for (const url of [`postgres:${rest}`, `postgresql:${rest}`]) {
      const store = createStore(url, new ManualClock(START))
      t.equal(store.kind, 'postgres')
      await store.migrate()
      await store.ping()
      await store.close()
    }
  })
})
