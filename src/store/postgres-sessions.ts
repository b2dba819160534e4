// The PostgreSQL store's sessions (SessionStore): methods spread into createPostgresStore.
import type { Pool, PoolClient } from 'pg'
import type { RotateResult, SessionEndReason, SessionRecord, SessionStore } from './session-store'

const SESSION_COLUMNS = 'id, user_id, created_at, last_used_at, auth_time, expires_at, counter, superseded_at, ' +
  'ended_at, end_reason, device_name, created_ip, last_ip'

// A type alias, not an interface: pg's row type parameter needs an index-signature-compatible type.
type SessionRow = {
  id: string
  user_id: string
  created_at: Date
  last_used_at: Date
  /** bigint: pg hands it over as a string. */
  auth_time: string
  expires_at: Date
  counter: number
  superseded_at: Date | null
  ended_at: Date | null
  end_reason: string | null
  device_name: string | null
  created_ip: string | null
  last_ip: string | null
}

const toSession = (row: SessionRow): SessionRecord => ({
  id: row.id,
  userId: row.user_id,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  authTime: Number(row.auth_time),
  expiresAt: row.expires_at,
  counter: row.counter,
  supersededAt: row.superseded_at,
  endedAt: row.ended_at,
  endReason: row.end_reason as SessionEndReason | null,
  deviceName: row.device_name,
  createdIp: row.created_ip,
  lastIp: row.last_ip
})

/** foreign_key_violation: the user was deleted while we wrote. */
const FOREIGN_KEY_VIOLATION = '23503'

/** Run `fn` in BEGIN … COMMIT on one pooled connection; ROLLBACK and a discarded connection on failure. */
export async function inTransaction<T> (pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  // While checked out, the pool's idle listener is detached; a dying connection must not crash us.
  const onError = (): void => {}
  client.on('error', onError)
  let failure: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err))
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.off('error', onError)
    // Passing the error destroys the connection instead of returning a possibly broken one.
    client.release(failure)
  }
}

export function sessionMethods (
  pool: Pool,
  now: () => string,
  run: <T>(fn: () => Promise<T>) => Promise<T>
): SessionStore {
  const rows = async (text: string, values: unknown[]): Promise<SessionRow[]> => (await pool.query<SessionRow>(text, values)).rows
  const changed = async (text: string, values: unknown[]): Promise<number> => (await pool.query(text, values)).rowCount ?? 0

  return {
    createSession: (session, { maxPerUser }) => run(async () => {
      if (!Number.isInteger(maxPerUser) || maxPerUser < 1) throw new RangeError(`maxPerUser must be a positive integer: ${maxPerUser}`)
      const stamp = now()
      return inTransaction(pool, async (client) => {
        // Logins of one user take turns here, so two at once cannot each keep maxPerUser others. NO KEY UPDATE
        // rather than UPDATE: the key-share locks of foreign key checks (this user's other session rows) still pass.
        await client.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [session.userId])
        const inserted = await client.query<SessionRow>(`
          INSERT INTO sessions (id, user_id, created_at, last_used_at, auth_time, expires_at, device_name, created_ip, last_ip)
          VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $7)
          RETURNING ${SESSION_COLUMNS}`,
        [session.id, session.userId, stamp, session.authTime, session.expiresAt.toISOString(), session.deviceName, session.ip])
        // Keeps the maxPerUser - 1 most recently used active sessions besides the new one.
        await client.query(`
          UPDATE sessions SET ended_at = $3, end_reason = 'evicted'
          WHERE id IN (
            SELECT id FROM sessions
            WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $3 AND id <> $2
            ORDER BY last_used_at DESC, id DESC
            OFFSET $4)`, [session.userId, session.id, stamp, maxPerUser - 1])
        return toSession(inserted.rows[0])
      })
    }),

    // Under READ COMMITTED a racing UPDATE waits for the row lock, then re-checks the counter against the committed
    // row: of several refreshes presenting one counter, only the first matches.
    rotateSession: (id, expectedCounter, { ip, now: at }) => run(async (): Promise<RotateResult> => {
      const stamp = at?.toISOString() ?? now()
      const [rotated] = await rows(`
        UPDATE sessions SET counter = counter + 1, superseded_at = $3, last_used_at = $3, last_ip = $4
        WHERE id = $1 AND counter = $2 AND ended_at IS NULL AND expires_at > $3
        RETURNING ${SESSION_COLUMNS}`, [id, expectedCounter, stamp, ip])
      if (rotated !== undefined) return { outcome: 'rotated', session: toSession(rotated) }
      const [row] = await rows(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`, [id])
      if (row === undefined) return { outcome: 'missing' }
      const session = toSession(row)
      if (row.ended_at !== null) return { outcome: 'ended', session }
      if (row.expires_at.getTime() <= Date.parse(stamp)) return { outcome: 'expired', session }
      return { outcome: 'stale', session }
    }),

    findSession: (id) => run(async () => {
      const [row] = await rows(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`, [id])
      return row === undefined ? null : toSession(row)
    }),

    listActiveSessions: (userId, at) => run(async () =>
      (await rows(`
        SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2
        ORDER BY last_used_at DESC, id DESC`, [userId, at?.toISOString() ?? now()])).map(toSession)),

    endSession: (id, reason, options) => run(async () => await changed(`
      UPDATE sessions SET ended_at = $3, end_reason = $2
      WHERE id = $1 AND ended_at IS NULL AND ($4::text IS NULL OR user_id = $4)`,
    [id, reason, now(), options?.userId ?? null]) > 0),

    endUserSessions: (userId, reason, options) => run(() => changed(`
      UPDATE sessions SET ended_at = $3, end_reason = $2
      WHERE user_id = $1 AND ended_at IS NULL AND ($4::text IS NULL OR id <> $4)`,
    [userId, reason, now(), options?.except ?? null])),

    recordEndedSession: ({ id, userId, expiresAt, reason }) => run(async () => {
      const stamp = now()
      try {
        return await changed(`
          INSERT INTO sessions (id, user_id, created_at, last_used_at, auth_time, expires_at, ended_at, end_reason)
          SELECT $1, $2, $3, $3, $4, $5, $3, $6
          WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
          ON CONFLICT (id) DO NOTHING`,
        [id, userId, stamp, Math.floor(Date.parse(stamp) / 1000), expiresAt.toISOString(), reason]) > 0
      } catch (err) {
        // A deletion committed between the EXISTS and the foreign key check: nothing to record, as above.
        if ((err as { code?: unknown }).code === FOREIGN_KEY_VIOLATION) return false
        throw err
      }
    }),

    // One round trip for both halves of a cache miss: two primary-key lookups.
    revocationState: (userId, sid) => run(async () => {
      const { rows: [row] } = await pool.query<{ version: number | null, ended: boolean }>(`
        SELECT (SELECT token_version FROM users WHERE id = $1) AS version,
               EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND ended_at IS NOT NULL) AS ended`, [userId, sid])
      return { tokenVersion: row?.version ?? null, sessionEnded: row?.ended === true }
    }),

    // The expression is the one of index sessions_done_at. SKIP LOCKED: instances purging at once take different rows.
    purgeSessions: (before, batchSize) => run(() => changed(`
      DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE LEAST(ended_at, expires_at) < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [before.toISOString(), batchSize]))
  }
}
