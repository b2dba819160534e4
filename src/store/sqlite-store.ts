// The embedded SQLite user store (better-sqlite3) and its versioned migrations runner.
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { newId } from '../lib/ids'
import { listMigrations } from './migrations'
import type { Clock } from '../clock'
import { EmailTakenError, StoreUnavailableError } from './user-store'
import type { Role, UserRecord, UserStore } from './user-store'

const MIGRATIONS_DIR = path.join(__dirname, 'migrations', 'sqlite')
/** The `$`-delimited segment of a PHC string that starts with `m=` (the PostgreSQL store uses the same pattern). */
const PHC_PARAMETERS = /\$(m=[^$]*)/
const BUSY_TIMEOUT_MS = 5000

interface UserRow {
  id: string
  email: string
  name: string | null
  role: Role
  disabled: number
  password_hash: string
  token_version: number
  email_verified: number
  created_at: string
  updated_at: string
}

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for a private in-memory database. */
  path: string
  clock: Clock
}

const toRecord = (row: UserRow): UserRecord => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  disabled: row.disabled === 1,
  passwordHash: row.password_hash,
  tokenVersion: row.token_version,
  emailVerified: row.email_verified === 1,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at)
})

function prepareStatements (db: Database.Database) {
  return {
    insert: db.prepare<Record<string, unknown>, UserRow>(`
      INSERT INTO users (id, email, name, role, password_hash, email_verified, created_at, updated_at)
      VALUES (@id, @email, @name, @role, @passwordHash, @emailVerified, @now, @now)
      RETURNING *`),
    byId: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    byEmail: db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?'),
    list: db.prepare<[string, number], UserRow>('SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?'),
    // One statement for every patch shape: absent fields keep their value, and the token
    // version bump lands in the same write as a password change.
    update: db.prepare<Record<string, unknown>, UserRow>(`
      UPDATE users SET
        name = CASE WHEN @setName THEN @name ELSE name END,
        role = COALESCE(@role, role),
        disabled = COALESCE(@disabled, disabled),
        password_hash = COALESCE(@passwordHash, password_hash),
        email_verified = COALESCE(@emailVerified, email_verified),
        token_version = token_version + @bump,
        updated_at = @now
      WHERE id = @id AND (@ifTokenVersion IS NULL OR token_version = @ifTokenVersion)
      RETURNING *`),
    delete: db.prepare<[string]>('DELETE FROM users WHERE id = ?'),
    revokeSession: db.prepare<[string, string, string]>(`
      INSERT INTO revoked_sessions (sid, user_id, expires_at) VALUES (?, ?, ?)
      ON CONFLICT (sid) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)`),
    revocationState: db.prepare<[string, string], { version: number | null, revoked: number }>(`
      SELECT (SELECT token_version FROM users WHERE id = ?) AS version,
             EXISTS (SELECT 1 FROM revoked_sessions WHERE sid = ?) AS revoked`),
    purgeRevokedSessions: db.prepare<[string]>('DELETE FROM revoked_sessions WHERE expires_at <= ?'),
    passwordHashParameters: db.prepare<[], string>(
      'SELECT DISTINCT phc_parameters(password_hash) FROM users WHERE phc_parameters(password_hash) IS NOT NULL').pluck()
  }
}

export function createSqliteStore (options: SqliteStoreOptions): UserStore {
  const inMemory = options.path === ':memory:'
  if (!inMemory) mkdirSync(path.dirname(options.path), { recursive: true })
  const db = new Database(options.path)
  // Set first: switching to WAL needs a lock that another worker may briefly hold.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  // WAL lets readers proceed while a writer commits; it does not apply to memory databases.
  if (!inMemory) db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')

  // SQLite has no regular expressions: the PHC parameter segment ("m=…,t=…,p=…") is cut out in JavaScript.
  db.function('phc_parameters', { deterministic: true }, (hash: unknown) =>
    typeof hash === 'string' ? (PHC_PARAMETERS.exec(hash)?.[1] ?? null) : null)

  const now = (): string => new Date(options.clock.now()).toISOString()
  const ping = db.prepare('SELECT 1')
  // Prepared on first use, because the tables they name exist only after migrate().
  let statements: ReturnType<typeof prepareStatements> | undefined
  const sql = () => (statements ??= prepareStatements(db))

  const translate = (err: unknown): unknown => {
    if (err instanceof Database.SqliteError) {
      if (err.code === 'SQLITE_CONSTRAINT_UNIQUE' && err.message.includes('users.email')) return new EmailTakenError()
      // busy_timeout already waited; a lock held this long means the store cannot serve now.
      if (err.code === 'SQLITE_BUSY') return new StoreUnavailableError({ cause: err })
    }
    // better-sqlite3 throws a TypeError ("The database connection is not open") after close().
    if (!db.open) return new StoreUnavailableError({ cause: err })
    return err
  }
  const run = async <T>(fn: () => T): Promise<T> => {
    try {
      return fn()
    } catch (err) {
      throw translate(err)
    }
  }

  return {
    kind: 'sqlite',

    migrate: () => run(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
      const isApplied = db.prepare<[number], number>('SELECT 1 FROM schema_migrations WHERE version = ?').pluck()
      const record = db.prepare<[number, string, string]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      for (const migration of listMigrations(MIGRATIONS_DIR)) {
        // IMMEDIATE takes the write lock before the check, so workers starting together apply each file once.
        db.transaction(() => {
          if (isApplied.get(migration.version) !== undefined) return
          db.exec(readFileSync(path.join(MIGRATIONS_DIR, migration.name), 'utf8'))
          record.run(migration.version, migration.name, now())
        }).immediate()
      }
    }),

    create: (user) => run(() => {
      const row = sql().insert.get({
        id: newId(),
        email: user.email,
        name: user.name,
        role: user.role,
        passwordHash: user.passwordHash,
        emailVerified: user.emailVerified === true ? 1 : 0,
        now: now()
      })
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      return toRecord(row)
    }),

    findById: (id) => run(() => {
      const row = sql().byId.get(id)
      return row === undefined ? null : toRecord(row)
    }),

    findByEmail: (email) => run(() => {
      const row = sql().byEmail.get(email)
      return row === undefined ? null : toRecord(row)
    }),

    // '' sorts before every id, so it stands for "from the start".
    list: ({ limit, after }) => run(() => sql().list.all(after ?? '', limit).map(toRecord)),

    update: (id, patch) => run(() => {
      const row = sql().update.get({
        id,
        setName: patch.name !== undefined ? 1 : 0,
        name: patch.name ?? null,
        role: patch.role ?? null,
        disabled: patch.disabled === undefined ? null : Number(patch.disabled),
        passwordHash: patch.passwordHash ?? null,
        emailVerified: patch.emailVerified === undefined ? null : Number(patch.emailVerified),
        bump: patch.bumpTokenVersion === true ? 1 : 0,
        ifTokenVersion: patch.ifTokenVersion ?? null,
        now: now()
      })
      return row === undefined ? null : toRecord(row)
    }),

    delete: (id) => run(() => sql().delete.run(id).changes > 0),

    revokeSession: ({ sid, userId, expiresAt }) => run(() => { sql().revokeSession.run(sid, userId, expiresAt.toISOString()) }),

    revocationState: (userId, sid) => run(() => {
      const row = sql().revocationState.get(userId, sid)
      return { tokenVersion: row?.version ?? null, sessionRevoked: row?.revoked === 1 }
    }),

    purgeRevokedSessions: (at) => run(() => sql().purgeRevokedSessions.run(at.toISOString()).changes),

    passwordHashParameters: () => run(() => sql().passwordHashParameters.all()),

    ping: () => run(() => { ping.get() }),

    close: async () => { db.close() }
  }
}
