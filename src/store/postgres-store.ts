// The PostgreSQL user store (pg Pool) and its versioned migrations runner, shared by any number of instances.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Pool } from 'pg'
import type { PoolClient } from 'pg'
import { newId } from '../lib/ids'
import { listMigrations, type Migration } from './migrations'
import type { Clock } from '../clock'
import { EmailTakenError, LastAdminError, StoreUnavailableError, losesActiveAdmin } from './user-store'
import type { Role, UserPatch, UserRecord, UserStore } from './user-store'
import { mfaMethods } from './postgres-mfa'
import { securityEventMethods } from './postgres-security-events'
import { sessionMethods } from './postgres-sessions'

const MIGRATIONS_DIR = path.join(__dirname, 'migrations', 'postgres')
/** Name of the unique index on lower(email) in 001_init.sql; its violations mean "email taken". */
const EMAIL_INDEX = 'users_email_key'
/**
 * Advisory lock key ("tesser" in ASCII) taken in every migration transaction, so instances
 * starting together apply each file once. It covers every schema of the database: cheap, and
 * a wait only happens while another instance is migrating.
 */
const MIGRATION_LOCK_KEY = 0x746573736572
/**
 * Advisory lock key ("admins" in ASCII) taken by every write guarded by `keepActiveAdmin`. Under READ COMMITTED
 * two administrators demoting each other at once would each still see the other as active and both succeed;
 * serialised on this lock, the second one's check sees the first one's commit.
 */
const ADMIN_GUARD_LOCK_KEY = 0x61646d696e73

const DEFAULT_POOL_SIZE = 10
const DEFAULT_CONNECT_TIMEOUT_MS = 3000
const DEFAULT_STATEMENT_TIMEOUT_MS = 5000
/** The client-side query timeout trails the server's statement_timeout, so the server normally cancels first (57014)
 *  and keeps the connection; the client timer only fires when the server or network has stopped answering. */
const QUERY_TIMEOUT_GRACE_MS = 1000

// Only whether a TOTP secret is stored: the sealed secret itself is read by postgres-mfa.ts alone.
const COLUMNS = 'id, email, name, role, disabled, password_hash, token_version, email_verified, ' +
  '(mfa_secret IS NOT NULL) AS mfa_enabled, created_at, updated_at'

// A type alias, not an interface: pg's row type parameter needs an index-signature-compatible type.
type UserRow = {
  id: string
  email: string
  name: string | null
  role: Role
  disabled: boolean
  password_hash: string
  token_version: number
  email_verified: boolean
  mfa_enabled: boolean
  created_at: Date
  updated_at: Date
}

export interface PostgresStoreOptions {
  /** postgres:// or postgresql:// URL; query parameters (e.g. options=-c search_path=…) reach the pg client. */
  url: string
  clock: Clock
  /** Connections per instance (default 10). */
  poolSize?: number
  /** Server-side statement_timeout; a client timer one second longer backs it up (default 5000). */
  statementTimeoutMs?: number
  /** Time allowed to open a connection or wait for a free one (default 3000). */
  connectTimeoutMs?: number
}

const toRecord = (row: UserRow): UserRecord => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  disabled: row.disabled,
  passwordHash: row.password_hash,
  tokenVersion: row.token_version,
  emailVerified: row.email_verified,
  mfaEnabled: row.mfa_enabled,
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

/** Node socket errors meaning the server cannot be reached (AggregateError from happy eyeballs carries one too). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE',
  'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN'
])
/** SQLSTATEs meaning "cannot serve now", beyond class 08 (connection exception). */
const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // query_canceled: statement_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '53300', // too_many_connections
  '3D000' // invalid_catalog_name: the database in the URL does not exist (yet)
])
/** Errors pg and pg-pool raise with a message only. */
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|is not queryable|Cannot use a pool after calling end/

function isUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true
    // 08xxx connection exceptions; 28xxx authentication failures happen only while connecting.
    if (/^(08|28)[0-9A-Z]{3}$/.test(code)) return true
  }
  return UNAVAILABLE_MESSAGES.test(err.message)
}

export function createPostgresStore (options: PostgresStoreOptions): UserStore {
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS
  const pool = new Pool({
    connectionString: options.url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + QUERY_TIMEOUT_GRACE_MS,
    keepAlive: true,
    // Shown in pg_stat_activity; a URL parameter of the same name wins.
    application_name: 'tessera'
  })
  // An idle client whose connection dies (server restart, pg_terminate_backend, network) is
  // emitted here and already dropped by the pool; without a listener the process would crash.
  // The next query opens a new connection, or fails with StoreUnavailableError.
  pool.on('error', () => {})

  const now = (): string => new Date(options.clock.now()).toISOString()
  let closed = false
  let closing: Promise<void> | undefined

  const translate = (err: unknown): unknown => {
    if (err instanceof EmailTakenError || err instanceof LastAdminError || err instanceof StoreUnavailableError) return err
    const pgErr = err as { code?: unknown, constraint?: unknown }
    if (pgErr.code === '23505' && pgErr.constraint === EMAIL_INDEX) return new EmailTakenError()
    // Anything failing once close() has begun is the closed pool speaking.
    if (closed || isUnavailable(err)) return new StoreUnavailableError({ cause: err })
    return err
  }
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new StoreUnavailableError({ cause: new Error('the PostgreSQL store is closed') })
    try {
      return await fn()
    } catch (err) {
      throw translate(err)
    }
  }
  const queryRows = async (text: string, values: unknown[]): Promise<UserRow[]> =>
    (await pool.query<UserRow>(text, values)).rows
  const one = (rows: UserRow[]): UserRecord | null => rows.length === 0 ? null : toRecord(rows[0])
  type Querier = Pick<PoolClient, 'query'>

  /** One UPDATE naming only the given fields; the token version bump happens in the same row write. */
  const updateRows = async (db: Querier, id: string, patch: UserPatch): Promise<UserRow[]> => {
    const values: unknown[] = [id]
    const param = (value: unknown): string => { values.push(value); return `$${values.length}` }
    const sets: string[] = []
    if (patch.name !== undefined) sets.push(`name = ${param(patch.name)}`)
    if (patch.role !== undefined) sets.push(`role = ${param(patch.role)}`)
    if (patch.disabled !== undefined) sets.push(`disabled = ${param(patch.disabled)}`)
    if (patch.passwordHash !== undefined) sets.push(`password_hash = ${param(patch.passwordHash)}`)
    if (patch.emailVerified !== undefined) sets.push(`email_verified = ${param(patch.emailVerified)}`)
    if (patch.bumpTokenVersion === true) sets.push('token_version = token_version + 1')
    sets.push(`updated_at = ${param(now())}`)
    // Under READ COMMITTED a racing UPDATE waits for the row lock, then re-checks this condition
    // against the committed row: of two resets with one token, only the first matches.
    const where = patch.ifTokenVersion === undefined ? 'id = $1' : `id = $1 AND token_version = ${param(patch.ifTokenVersion)}`
    return (await db.query<UserRow>(`UPDATE users SET ${sets.join(', ')} WHERE ${where} RETURNING ${COLUMNS}`, values)).rows
  }

  /** The last-admin check and the write in one transaction, serialised with every other guarded write. */
  const keepingAnAdmin = async <T>(id: string, patch: UserPatch | undefined, write: (db: Querier) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    // While checked out, the pool's idle listener is detached; a dying connection must not crash us.
    const onError = (): void => {}
    client.on('error', onError)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [ADMIN_GUARD_LOCK_KEY])
      const target = one((await client.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id])).rows)
      // A compare-and-set that will not apply changes nothing, so it cannot remove anyone.
      const applies = target !== null && (patch?.ifTokenVersion === undefined || patch.ifTokenVersion === target.tokenVersion)
      if (applies && losesActiveAdmin(target, patch)) {
        const other = await client.query("SELECT 1 FROM users WHERE id <> $1 AND role = 'admin' AND NOT disabled LIMIT 1", [id])
        if (other.rowCount === 0) throw new LastAdminError()
      }
      const result = await write(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      const rolledBack = await client.query('ROLLBACK').then(() => true, () => false)
      // A refusal rolled back cleanly leaves a healthy connection; anything else may not have.
      if (!(err instanceof LastAdminError && rolledBack)) broken = err instanceof Error ? err : new Error(String(err))
      throw err
    } finally {
      client.off('error', onError)
      // Passing an error destroys the connection instead of returning a possibly broken one.
      client.release(broken)
    }
  }

  const applyMigration = async (client: PoolClient, migration: Migration): Promise<void> => {
    await client.query('BEGIN')
    try {
      // Held to COMMIT/ROLLBACK: the check, the file and its record are one step for every instance.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY])
      // Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type.
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`)
      const applied = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version])
      if (applied.rowCount === 0) {
        // No parameters: the simple protocol runs a file of several statements.
        await client.query(readFileSync(path.join(MIGRATIONS_DIR, migration.name), 'utf8'))
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [migration.version, migration.name, now()])
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
  }

  return {
    kind: 'postgres',

    migrate: () => run(async () => {
      const migrations = listMigrations(MIGRATIONS_DIR)
      const client = await pool.connect()
      // While checked out, the pool's idle listener is detached; a dying connection must not crash us.
      const onError = (): void => {}
      client.on('error', onError)
      let failure: Error | undefined
      try {
        for (const migration of migrations) await applyMigration(client, migration)
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err))
        throw err
      } finally {
        client.off('error', onError)
        // Passing the error destroys the connection instead of returning a possibly broken one.
        client.release(failure)
      }
    }),

    create: (user) => run(async () => {
      const stamp = now()
      const rows = await queryRows(`
        INSERT INTO users (id, email, name, role, password_hash, email_verified, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
        RETURNING ${COLUMNS}`, [newId(), user.email, user.name, user.role, user.passwordHash, user.emailVerified === true, stamp])
      const record = one(rows)
      if (record === null) throw new Error('INSERT … RETURNING returned no row')
      return record
    }),

    findById: (id) => run(async () => one(await queryRows(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]))),

    // lower() on both sides matches the unique index, so lookups ignore case like the constraint.
    findByEmail: (email) => run(async () =>
      one(await queryRows(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]))),

    // '' sorts before every id, so it stands for "from the start".
    list: ({ limit, after }) => run(async () =>
      (await queryRows(`SELECT ${COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2`, [after ?? '', limit])).map(toRecord)),

    update: (id, patch) => run(async () => {
      if (patch.keepActiveAdmin !== true) return one(await updateRows(pool, id, patch))
      return await keepingAnAdmin(id, patch, async (db) => one(await updateRows(db, id, patch)))
    }),

    delete: (id, options) => run(async () => {
      const remove = async (db: Querier): Promise<boolean> => ((await db.query('DELETE FROM users WHERE id = $1', [id])).rowCount ?? 0) > 0
      return options?.keepActiveAdmin === true ? await keepingAnAdmin(id, undefined, remove) : await remove(pool)
    }),

    ...sessionMethods(pool, now, run),

    ...mfaMethods(pool, now, run),
    ...securityEventMethods(pool, now, run),

    // substring() with a group returns the group: the `$`-delimited segment that starts with m=.
    passwordHashParameters: () => run(async () => (await pool.query<{ parameters: string }>(`
      SELECT DISTINCT substring(password_hash from '\\$(m=[^$]*)') AS parameters FROM users
      WHERE substring(password_hash from '\\$(m=[^$]*)') IS NOT NULL`)).rows.map((row) => row.parameters)),

    ping: () => run(async () => { await pool.query('SELECT 1') }),

    close: () => {
      closed = true
      closing ??= pool.end()
      return closing
    }
  }
}
