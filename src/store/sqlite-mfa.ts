// The SQLite store's two-factor state (MfaStore): statements and methods, spread into createSqliteStore.
import type Database from 'better-sqlite3'
import type { MfaState, MfaStore } from './mfa-store'

interface MfaRow {
  mfa_secret: string | null
  mfa_pending_secret: string | null
  mfa_last_step: number | null
  mfa_counter: number
  codes_left: number
}

export function prepareMfaStatements (db: Database.Database) {
  return {
    mfaState: db.prepare<[string], MfaRow>(`
      SELECT mfa_secret, mfa_pending_secret, mfa_last_step, mfa_counter,
        (SELECT count(*) FROM mfa_recovery_codes AS c WHERE c.user_id = users.id) AS codes_left
      FROM users WHERE id = ?`),
    setPending: db.prepare<Record<string, unknown>>(`
      UPDATE users SET mfa_pending_secret = @sealed, updated_at = @now WHERE id = @id AND mfa_secret IS NULL`),
    enable: db.prepare<Record<string, unknown>>(`
      UPDATE users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL, mfa_last_step = @step,
        mfa_counter = mfa_counter + 1, updated_at = @now
      WHERE id = @id AND mfa_secret IS NULL AND mfa_pending_secret = @sealed`),
    spendStep: db.prepare<Record<string, unknown>>(`
      UPDATE users SET mfa_last_step = @step, mfa_counter = mfa_counter + 1, updated_at = @now
      WHERE id = @id AND mfa_secret IS NOT NULL AND (mfa_last_step IS NULL OR mfa_last_step < @step)
        AND (@counter IS NULL OR mfa_counter = @counter)`),
    bumpCounter: db.prepare<Record<string, unknown>>(`
      UPDATE users SET mfa_counter = mfa_counter + 1, updated_at = @now
      WHERE id = @id AND mfa_secret IS NOT NULL AND (@counter IS NULL OR mfa_counter = @counter)`),
    deleteCode: db.prepare<[string, string]>('DELETE FROM mfa_recovery_codes WHERE user_id = ? AND code_hash = ?'),
    deleteCodes: db.prepare<[string]>('DELETE FROM mfa_recovery_codes WHERE user_id = ?'),
    insertCode: db.prepare<[string, string]>('INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)'),
    disable: db.prepare<Record<string, unknown>>(`
      UPDATE users SET mfa_secret = NULL, mfa_pending_secret = NULL, mfa_last_step = NULL, mfa_counter = mfa_counter + 1,
        updated_at = @now
      WHERE id = @id`)
  }
}

type MfaStatements = ReturnType<typeof prepareMfaStatements>

export function mfaMethods (
  db: Database.Database,
  sql: () => MfaStatements,
  now: () => string,
  run: <T>(fn: () => T) => Promise<T>
): MfaStore {
  const replaceCodes = (userId: string, hashes: readonly string[]): void => {
    sql().deleteCodes.run(userId)
    for (const hash of hashes) sql().insertCode.run(userId, hash)
  }
  return {
    mfaState: (userId) => run((): MfaState | null => {
      const row = sql().mfaState.get(userId)
      if (row === undefined) return null
      return {
        secret: row.mfa_secret,
        pendingSecret: row.mfa_pending_secret,
        lastStep: row.mfa_last_step,
        counter: row.mfa_counter,
        recoveryCodesLeft: row.codes_left
      }
    }),

    setPendingMfa: (userId, sealed) => run(() => sql().setPending.run({ id: userId, sealed, now: now() }).changes > 0),

    // IMMEDIATE: the write lock from the first statement on, so another process cannot interleave between them.
    enableMfa: (userId, { sealed, step, codeHashes }) => run(() => db.transaction(() => {
      if (sql().enable.run({ id: userId, sealed, step, now: now() }).changes === 0) return false
      replaceCodes(userId, codeHashes)
      return true
    }).immediate()),

    spendMfaFactor: (userId, factor, options = {}) => run(() => db.transaction(() => {
      const counter = options.counter ?? null
      if ('step' in factor) {
        if (sql().spendStep.run({ id: userId, step: factor.step, counter, now: now() }).changes === 0) return false
      } else {
        // The counter first: if it does not match, nothing was written and the code is still there.
        if (sql().bumpCounter.run({ id: userId, counter, now: now() }).changes === 0) return false
        if (sql().deleteCode.run(userId, factor.codeHash).changes === 0) throw new Unspent()
      }
      if (options.replaceCodes !== undefined) replaceCodes(userId, options.replaceCodes)
      if (options.disable === true) {
        sql().disable.run({ id: userId, now: now() })
        sql().deleteCodes.run(userId)
      }
      return true
    }).immediate()).catch((err: unknown) => {
      // Thrown inside the transaction so better-sqlite3 rolls the counter back.
      if (err instanceof Unspent) return false
      throw err
    }),

    resetMfa: (userId) => run(() => db.transaction(() => {
      if (sql().disable.run({ id: userId, now: now() }).changes === 0) return false
      sql().deleteCodes.run(userId)
      return true
    }).immediate())
  }
}

/** A recovery code that is not (or no longer) stored: the transaction rolls back. */
class Unspent extends Error {}
