// The embedded SQLite user store (better-sqlite3) and its versioned migrations runner.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { newId } from '../lib/ids'
import { listMigrations } from './migrations'
import { preparePrivateDatabase, type PermissionLog } from './private-files'
import type { Clock } from '../clock'
import { EmailTakenError, LastAdminError, StoreUnavailableError, losesActiveAdmin } from './user-store'
import type { Role, UserPatch, UserRecord, UserStore } from './user-store'
import { mfaMethods, prepareMfaStatements } from './sqlite-mfa'
import { prepareSecurityEventStatements, securityEventMethods } from './sqlite-security-events'
import { prepareSessionStatements, sessionMethods } from './sqlite-sessions'

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
  /** Sealed; only its presence is read here (sqlite-mfa.ts reads the rest). */
  mfa_secret: string | null
  created_at: string
  updated_at: string
}

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for a private in-memory database. */
  path: string
  clock: Clock
  /** Hears of a database file tightened at start, or of a directory that others can list. */
  log?: PermissionLog
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
  mfaEnabled: row.mfa_secret !== null,
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
    otherActiveAdmin: db.prepare<[string], number>("SELECT 1 FROM users WHERE id <> ? AND role = 'admin' AND disabled = 0 LIMIT 1").pluck(),
    ...prepareSessionStatements(db),
    ...prepareMfaStatements(db),
    ...prepareSecurityEventStatements(db),
    passwordHashParameters: db.prepare<[], string>(
      'SELECT DISTINCT phc_parameters(password_hash) FROM users WHERE phc_parameters(password_hash) IS NOT NULL').pluck()
  }
}

export function createSqliteStore (options: SqliteStoreOptions): UserStore {
  const inMemory = options.path === ':memory:'
  // '' is SQLite's private temporary database, deleted on close: no file of ours to protect.
  if (!inMemory && options.path !== '') preparePrivateDatabase(options.path, options.log)
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
  /**
   * The check and the write in one IMMEDIATE transaction: it holds the write lock from the read on, so two
   * administrators demoting each other (from any process on this file) cannot both see the other as active.
   */
  const keepingAnAdmin = <T>(id: string, patch: UserPatch | undefined, write: () => T): T => db.transaction(() => {
    const row = sql().byId.get(id)
    // A compare-and-set that will not apply changes nothing, so it cannot remove anyone.
    const applies = row !== undefined && (patch?.ifTokenVersion === undefined || patch.ifTokenVersion === row.token_version)
    if (applies && losesActiveAdmin(toRecord(row), patch) && sql().otherActiveAdmin.get(id) === undefined) throw new LastAdminError()
    return write()
  }).immediate()

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
      const apply = (): UserRecord | null => {
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
      }
      return patch.keepActiveAdmin === true ? keepingAnAdmin(id, patch, apply) : apply()
    }),

    delete: (id, options) => run(() => {
      const remove = (): boolean => sql().delete.run(id).changes > 0
      return options?.keepActiveAdmin === true ? keepingAnAdmin(id, undefined, remove) : remove()
    }),

    ...sessionMethods(db, sql, now, run),

    ...mfaMethods(db, sql, now, run),
    ...securityEventMethods(sql, now, run),

    passwordHashParameters: () => run(() => sql().passwordHashParameters.all()),

    ping: () => run(() => { ping.get() }),

    close: async () => { db.close() }
  }
}
