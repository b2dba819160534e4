// The SQLite store's security events (SecurityEventStore): statements and methods, spread into createSqliteStore.
import type Database from 'better-sqlite3'
import { newId } from '../lib/ids'
import { eventFromRow, type SecurityEventColumns, type SecurityEventRecord, type SecurityEventStore } from './security-event-store'

type EventRow = SecurityEventColumns & { created_at: string }

const toEvent = (row: EventRow): SecurityEventRecord => eventFromRow(row, new Date(row.created_at))

export function prepareSecurityEventStatements (db: Database.Database) {
  return {
    insertEvent: db.prepare<Record<string, unknown>, EventRow>(`
      INSERT INTO security_events (id, user_id, type, created_at, ip, device_name, session_id, actor_id, detail)
      VALUES (@id, @userId, @type, @now, @ip, @deviceName, @sessionId, @actorId, @detail)
      RETURNING *`),
    // '~' sorts after every id character, so it stands for "from the newest".
    listEvents: db.prepare<[string, string, number], EventRow>(
      'SELECT * FROM security_events WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
    purgeEvents: db.prepare<[string, number]>(
      'DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE created_at < ? LIMIT ?)')
  }
}

type EventStatements = ReturnType<typeof prepareSecurityEventStatements>

export function securityEventMethods (sql: () => EventStatements, now: () => string, run: <T>(fn: () => T) => Promise<T>): SecurityEventStore {
  return {
    appendSecurityEvent: (event) => run(() => {
      const row = sql().insertEvent.get({ id: newId(), now: now(), ...event })
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      return toEvent(row)
    }),
    listSecurityEvents: (userId, { limit, before }) => run(() => sql().listEvents.all(userId, before ?? '~', limit).map(toEvent)),
    purgeSecurityEvents: (before, batchSize) => run(() => sql().purgeEvents.run(before.toISOString(), batchSize).changes)
  }
}
