// The PostgreSQL store's two-factor state (MfaStore): methods spread into createPostgresStore.
import type { Pool, PoolClient } from 'pg'
import type { MfaStore } from './mfa-store'
import { inTransaction } from './postgres-sessions'

// A type alias, not an interface: pg's row type parameter needs an index-signature-compatible type.
type MfaRow = {
  mfa_secret: string | null
  mfa_pending_secret: string | null
  /** bigint: pg hands it over as a string. */
  mfa_last_step: string | null
  mfa_counter: number
  codes_left: string
}

/** A recovery code that is not (or no longer) stored: the transaction rolls back. */
class Unspent extends Error {}

const DISABLE = `UPDATE users SET mfa_secret = NULL, mfa_pending_secret = NULL, mfa_last_step = NULL, mfa_counter = mfa_counter + 1,
  updated_at = $2 WHERE id = $1`

export function mfaMethods (
  pool: Pool,
  now: () => string,
  run: <T>(fn: () => Promise<T>) => Promise<T>
): MfaStore {
  const changed = async (db: Pick<PoolClient, 'query'>, text: string, values: unknown[]): Promise<boolean> =>
    ((await db.query(text, values)).rowCount ?? 0) > 0
  const replaceCodes = async (client: PoolClient, userId: string, hashes: readonly string[]): Promise<void> => {
    await client.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId])
    if (hashes.length > 0) {
      await client.query('INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])', [userId, hashes])
    }
  }

  return {
    mfaState: (userId) => run(async () => {
      const { rows } = await pool.query<MfaRow>(`
        SELECT mfa_secret, mfa_pending_secret, mfa_last_step, mfa_counter,
          (SELECT count(*) FROM mfa_recovery_codes AS c WHERE c.user_id = users.id) AS codes_left
        FROM users WHERE id = $1`, [userId])
      if (rows.length === 0) return null
      const row = rows[0]
      return {
        secret: row.mfa_secret,
        pendingSecret: row.mfa_pending_secret,
        lastStep: row.mfa_last_step === null ? null : Number(row.mfa_last_step),
        counter: row.mfa_counter,
        recoveryCodesLeft: Number(row.codes_left)
      }
    }),

    setPendingMfa: (userId, sealed) => run(async () => await changed(pool,
      'UPDATE users SET mfa_pending_secret = $2, updated_at = $3 WHERE id = $1 AND mfa_secret IS NULL', [userId, sealed, now()])),

    enableMfa: (userId, { sealed, step, codeHashes }) => run(() => inTransaction(pool, async (client) => {
      // Under READ COMMITTED a racing UPDATE waits for the row lock, then re-checks the condition on the committed row.
      const enabled = await changed(client, `
        UPDATE users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL, mfa_last_step = $3,
          mfa_counter = mfa_counter + 1, updated_at = $4
        WHERE id = $1 AND mfa_secret IS NULL AND mfa_pending_secret = $2`, [userId, sealed, step, now()])
      if (enabled) await replaceCodes(client, userId, codeHashes)
      return enabled
    })),

    spendMfaFactor: (userId, factor, options = {}) => run(async () => {
      try {
        return await inTransaction(pool, async (client) => {
          const counter = options.counter ?? null
          const stamp = now()
          if ('step' in factor) {
            const spent = await changed(client, `
              UPDATE users SET mfa_last_step = $2, mfa_counter = mfa_counter + 1, updated_at = $4
              WHERE id = $1 AND mfa_secret IS NOT NULL AND (mfa_last_step IS NULL OR mfa_last_step < $2)
                AND ($3::integer IS NULL OR mfa_counter = $3::integer)`, [userId, factor.step, counter, stamp])
            if (!spent) return false
          } else {
            // The user's row is locked first, as every other change here does (no deadlock between two orders), so two
            // spends of one code queue here and the second deletes nothing. A code that is not there writes nothing.
            await client.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId])
            if (!await changed(client, 'DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND code_hash = $2', [userId, factor.codeHash])) {
              return false
            }
            const bumped = await changed(client, `
              UPDATE users SET mfa_counter = mfa_counter + 1, updated_at = $3
              WHERE id = $1 AND mfa_secret IS NOT NULL AND ($2::integer IS NULL OR mfa_counter = $2::integer)`, [userId, counter, stamp])
            // Throwing rolls the deleted code back.
            if (!bumped) throw new Unspent()
          }
          if (options.replaceCodes !== undefined) await replaceCodes(client, userId, options.replaceCodes)
          if (options.disable === true) {
            await client.query(DISABLE, [userId, stamp])
            await replaceCodes(client, userId, [])
          }
          return true
        })
      } catch (err) {
        if (err instanceof Unspent) return false
        throw err
      }
    }),

    resetMfa: (userId) => run(() => inTransaction(pool, async (client) => {
      if (!await changed(client, DISABLE, [userId, now()])) return false
      await replaceCodes(client, userId, [])
      return true
    }))
  }
}
