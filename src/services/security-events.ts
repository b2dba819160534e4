// Security events: written at the moments that matter to an account's owner (sign-ins, password changes, sessions
// ended, administrators' actions), listed newest first, purged after SECURITY_EVENTS_RETENTION.
import type { Clock } from '../clock'
import { Errors, type TesseraError } from '../errors'
import { clientAddress } from '../lib/client-network'
import { deviceLabel } from '../lib/device-label'
import { PeriodicPurge } from '../lib/periodic-purge'
import type { SecurityEventRecord, SecurityEventType, UserStore } from '../store/user-store'
import type { SignInClient } from './session-service'

/** The event as its owner and administrators see it. */
export interface SecurityEventView {
  id: string
  type: SecurityEventType
  createdAt: string
  ip: string | null
  deviceName: string | null
  sessionId: string | null
  /** The administrator who acted (admin_* events); null otherwise, and for the command line. */
  actorId: string | null
  detail: string | null
}

export interface SecurityEventPage {
  events: SecurityEventView[]
  /** Pass back as `cursor` for older events; null on the last page. */
  nextCursor: string | null
}

/** What is known about the moment: the request's client, the session, the acting administrator, a short word. */
export interface EventContext {
  client?: SignInClient
  sessionId?: string | null
  actorId?: string | null
  detail?: string | null
}

interface Log { warn (obj: object, msg: string): void }

export interface SecurityEventsDeps {
  store: UserStore
  clock: Clock
  /** SECURITY_EVENTS_RETENTION, seconds. */
  retention: number
  log: Log
}


const encodeCursor = (id: string): string => Buffer.from(`ev:${id}`).toString('base64url')
function decodeCursor (cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!decoded.startsWith('ev:') || encodeCursor(decoded.slice(3)) !== cursor) throw invalidCursor()
  return decoded.slice(3)
}
const invalidCursor = (): TesseraError => Errors.validation([{ path: '/cursor', message: 'is not a cursor this API returned' }], 'Invalid cursor')

const view = (e: SecurityEventRecord): SecurityEventView => ({
  id: e.id,
  type: e.type,
  createdAt: e.createdAt.toISOString(),
  ip: e.ip,
  deviceName: e.deviceName,
  sessionId: e.sessionId,
  actorId: e.actorId,
  detail: e.detail
})

export class SecurityEvents {
  private readonly purge: PeriodicPurge

  constructor (private readonly deps: SecurityEventsDeps) {
    this.purge = new PeriodicPurge({
      // Old events, at a write, at most hourly per instance, in batches (as sessions are).
      clock: deps.clock,
      keepSeconds: deps.retention,
      purge: async (before, batch) => await deps.store.purgeSecurityEvents(before, batch),
      log: deps.log,
      failure: 'could not purge old security events; will retry'
    })
  }

  /**
   * Best effort, awaited: the action it records has already happened (a session was created, a password changed),
   * and refusing it now because the audit write failed would punish the user for the store's trouble, often after
   * the change. A failure is logged as a warning and counted (tessera_store_errors_total{operation="appendSecurityEvent"}).
   */
  async record (userId: string, type: SecurityEventType, context: EventContext = {}): Promise<void> {
    const { client } = context
    try {
      await this.deps.store.appendSecurityEvent({
        userId,
        type,
        ip: client?.ip === undefined ? null : clientAddress(client.ip),
        deviceName: client === undefined ? null : client.deviceName ?? deviceLabel(client.userAgent),
        sessionId: context.sessionId ?? null,
        actorId: context.actorId ?? null,
        detail: context.detail ?? null
      })
    } catch (err) {
      this.deps.log.warn({ userId, type, err: err instanceof Error ? err.message : String(err) }, 'could not record a security event')
      return
    }
    this.purge.maybeRun()
  }

  /** A user's events, newest first, a page at a time (keyset on the time-ordered id). */
  async list (userId: string, query: { limit: number, cursor?: string }): Promise<SecurityEventPage> {
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
    // One extra row tells whether another page exists without a COUNT.
    const rows = await this.deps.store.listSecurityEvents(userId, { limit: query.limit + 1, ...(before !== undefined ? { before } : {}) })
    const events = rows.slice(0, query.limit)
    return { events: events.map(view), nextCursor: rows.length > query.limit ? encodeCursor(events[events.length - 1].id) : null }
  }
}
