// The PostgreSQL store's security events (SecurityEventStore): methods spread into createPostgresStore.
import type { Pool } from 'pg'
import { newId } from '../lib/ids'
import { eventFromRow, type SecurityEventColumns, type SecurityEventRecord, type SecurityEventStore } from './security-event-store'

const EVENT_COLUMNS = 'id, user_id, type, created_at, ip, device_name, session_id, actor_id, detail'

// A type alias, not an interface: pg's row type parameter needs an index-signature-compatible type.
type EventRow = SecurityEventColumns & { created_at: Date }

const toEvent = (row: EventRow): SecurityEventRecord => eventFromRow(row, row.created_at)

export function securityEventMethods (pool: Pool, now: () => string, run: <T>(fn: () => Promise<T>) => Promise<T>): SecurityEventStore {
  return {
    appendSecurityEvent: (event) => run(async () => {
      const { rows: [row] } = await pool.query<EventRow>(`
        INSERT INTO security_events (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING ${EVENT_COLUMNS}`,
      [newId(), event.userId, event.type, now(), event.ip, event.deviceName, event.sessionId, event.actorId, event.detail])
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      return toEvent(row)
    }),
    // '~' sorts after every id character (COLLATE "C"), so it stands for "from the newest".
    listSecurityEvents: (userId, { limit, before }) => run(async () => (await pool.query<EventRow>(`
      SELECT ${EVENT_COLUMNS} FROM security_events WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
    [userId, before ?? '~', limit])).rows.map(toEvent)),
    // SKIP LOCKED: instances purging at once take different rows.
    purgeSecurityEvents: (before, batchSize) => run(async () => (await pool.query(`
      DELETE FROM security_events WHERE id IN (
        SELECT id FROM security_events WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [before.toISOString(), batchSize])).rowCount ?? 0)
  }
}
