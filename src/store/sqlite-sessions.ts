// The SQLite store's sessions (SessionStore): statements and methods, spread into createSqliteStore.
import type Database from 'better-sqlite3'
import type { RotateResult, SessionEndReason, SessionRecord, SessionStore } from './session-store'

interface SessionRow {
  id: string
  user_id: string
  created_at: string
  last_used_at: string
  auth_time: number
  expires_at: string
  counter: number
  superseded_at: string | null
  ended_at: string | null
  end_reason: string | null
  device_name: string | null
  created_ip: string | null
  last_ip: string | null
}

const dateOrNull = (value: string | null): Date | null => value === null ? null : new Date(value)

const toSession = (row: SessionRow): SessionRecord => ({
  id: row.id,
  userId: row.user_id,
  createdAt: new Date(row.created_at),
  lastUsedAt: new Date(row.last_used_at),
  authTime: row.auth_time,
  expiresAt: new Date(row.expires_at),
  counter: row.counter,
  supersededAt: dateOrNull(row.superseded_at),
  endedAt: dateOrNull(row.ended_at),
  endReason: row.end_reason as SessionEndReason | null,
  deviceName: row.device_name,
  createdIp: row.created_ip,
  lastIp: row.last_ip
})

export function prepareSessionStatements (db: Database.Database) {
  return {
    insertSession: db.prepare<Record<string, unknown>, SessionRow>(`
      INSERT INTO sessions (id, user_id, created_at, last_used_at, auth_time, expires_at, device_name, created_ip, last_ip)
      VALUES (@id, @userId, @now, @now, @authTime, @expiresAt, @deviceName, @ip, @ip)
      RETURNING *`),
    // Keeps the `keep` most recently used active sessions besides the new one; LIMIT -1 means no limit.
    evictSessions: db.prepare<Record<string, unknown>>(`
      UPDATE sessions SET ended_at = @now, end_reason = 'evicted'
      WHERE id IN (
        SELECT id FROM sessions
        WHERE user_id = @userId AND ended_at IS NULL AND expires_at > @now AND id <> @id
        ORDER BY last_used_at DESC, id DESC
        LIMIT -1 OFFSET @keep)`),
    rotateSession: db.prepare<Record<string, unknown>, SessionRow>(`
      UPDATE sessions SET counter = counter + 1, superseded_at = @now, last_used_at = @now, last_ip = @ip
      WHERE id = @id AND counter = @expected AND ended_at IS NULL AND expires_at > @now
      RETURNING *`),
    sessionById: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?'),
    activeSessions: db.prepare<[string, string], SessionRow>(`
      SELECT * FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?
      ORDER BY last_used_at DESC, id DESC`),
    endSession: db.prepare<Record<string, unknown>>(`
      UPDATE sessions SET ended_at = @now, end_reason = @reason
      WHERE id = @id AND ended_at IS NULL AND (@userId IS NULL OR user_id = @userId)`),
    endUserSessions: db.prepare<Record<string, unknown>>(`
      UPDATE sessions SET ended_at = @now, end_reason = @reason
      WHERE user_id = @userId AND ended_at IS NULL AND (@except IS NULL OR id <> @except)`),
    // The WHERE also keeps SQLite from reading ON CONFLICT as a join constraint.
    recordEndedSession: db.prepare<Record<string, unknown>>(`
      INSERT INTO sessions (id, user_id, created_at, last_used_at, auth_time, expires_at, ended_at, end_reason)
      SELECT @id, @userId, @now, @now, @authTime, @expiresAt, @now, @reason
      WHERE EXISTS (SELECT 1 FROM users WHERE id = @userId)
      ON CONFLICT (id) DO NOTHING`),
    revocationState: db.prepare<[string, string], { version: number | null, ended: number }>(`
      SELECT (SELECT token_version FROM users WHERE id = ?) AS version,
             EXISTS (SELECT 1 FROM sessions WHERE id = ? AND ended_at IS NOT NULL) AS ended`),
    // The expression is the one of index sessions_done_at.
    purgeSessions: db.prepare<[string, number]>(`
      DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE min(coalesce(ended_at, expires_at), expires_at) < ? LIMIT ?)`)
  }
}

type SessionStatements = ReturnType<typeof prepareSessionStatements>

export function sessionMethods (
  db: Database.Database,
  sql: () => SessionStatements,
  now: () => string,
  run: <T>(fn: () => T) => Promise<T>
): SessionStore {
  return {
    createSession: (session, { maxPerUser }) => run(() => {
      if (!Number.isInteger(maxPerUser) || maxPerUser < 1) throw new RangeError(`maxPerUser must be a positive integer: ${maxPerUser}`)
      const stamp = now()
      // IMMEDIATE: the write lock first, so two logins of one user in two processes cannot both keep maxPerUser others.
      return db.transaction(() => {
        const row = sql().insertSession.get({
          id: session.id,
          userId: session.userId,
          now: stamp,
          authTime: session.authTime,
          expiresAt: session.expiresAt.toISOString(),
          deviceName: session.deviceName,
          ip: session.ip
        })
        if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
        sql().evictSessions.run({ userId: session.userId, id: session.id, now: stamp, keep: maxPerUser - 1 })
        return toSession(row)
      }).immediate()
    }),

    rotateSession: (id, expectedCounter, { ip, now: at }) => run((): RotateResult => {
      const stamp = at?.toISOString() ?? now()
      const rotated = sql().rotateSession.get({ id, expected: expectedCounter, now: stamp, ip })
      if (rotated !== undefined) return { outcome: 'rotated', session: toSession(rotated) }
      const row = sql().sessionById.get(id)
      if (row === undefined) return { outcome: 'missing' }
      const session = toSession(row)
      if (row.ended_at !== null) return { outcome: 'ended', session }
      if (row.expires_at <= stamp) return { outcome: 'expired', session }
      return { outcome: 'stale', session }
    }),

    findSession: (id) => run(() => {
      const row = sql().sessionById.get(id)
      return row === undefined ? null : toSession(row)
    }),

    listActiveSessions: (userId, at) => run(() =>
      sql().activeSessions.all(userId, at?.toISOString() ?? now()).map(toSession)),

    endSession: (id, reason, options) => run(() =>
      sql().endSession.run({ id, reason, userId: options?.userId ?? null, now: now() }).changes > 0),

    endUserSessions: (userId, reason, options) => run(() =>
      sql().endUserSessions.run({ userId, reason, except: options?.except ?? null, now: now() }).changes),

    recordEndedSession: ({ id, userId, expiresAt, reason }) => run(() => {
      const stamp = now()
      return sql().recordEndedSession.run({
        id, userId, reason, now: stamp, authTime: Math.floor(Date.parse(stamp) / 1000), expiresAt: expiresAt.toISOString()
      }).changes > 0
    }),

    revocationState: (userId, sid) => run(() => {
      const row = sql().revocationState.get(userId, sid)
      return { tokenVersion: row?.version ?? null, sessionEnded: row?.ended === 1 }
    }),

    purgeSessions: (before, batchSize) => run(() => sql().purgeSessions.run(before.toISOString(), batchSize).changes)
  }
}
