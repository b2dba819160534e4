// Revocations told to every instance at once over Redis pub/sub; when Redis is down, the cache TTL is the fallback.
import { createRedisClient, type RedisLog } from '../lib/redis'

/** A user's token version changed (`version` null: the user is gone), or one session was logged out. */
export type RevocationEvent =
  | { kind: 'user', userId: string, version: number | null }
  | { kind: 'session', sid: string }

export interface RevocationBus {
  /** Fire and forget: never throws, never waits for Redis. */
  publish (event: RevocationEvent): void
  /**
   * Deliver every event (this instance's own included) to `handler`. Resolves once subscribed, or after a
   * short wait when Redis is unreachable; the subscription is made (and remade) whenever Redis answers.
   */
  subscribe (handler: (event: RevocationEvent) => void): Promise<void>
  /** Waits (briefly) for publishes still on their way, then disconnects: a short-lived process must not lose its last one. */
  close (): Promise<void>
}

/** Ids are 26 characters and sids 16 (see lib/ids.ts and tokens/signers.ts); anything else is not ours. */
const MAX_ID_LENGTH = 64
const SUBSCRIBE_WAIT_MS = 500
/** How long a publish made while the first connection is being set up waits for it. */
const FIRST_CONNECTION_WAIT_MS = 500

/** Compact on the wire: `{"u":id,"v":3}`, `{"u":id,"v":null}`, `{"s":sid}`. */
export function encodeEvent (event: RevocationEvent): string {
  return event.kind === 'user' ? JSON.stringify({ u: event.userId, v: event.version }) : JSON.stringify({ s: event.sid })
}

/** The event a message carries, or null for anything malformed (ignored: a bad message must not stop the subscriber). */
export function decodeEvent (message: string): RevocationEvent | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(message)
  } catch {
    return null
  }
  if (parsed === null || typeof parsed !== 'object') return null
  const { u, v, s } = parsed as { u?: unknown, v?: unknown, s?: unknown }
  if (typeof u === 'string' && u.length > 0 && u.length <= MAX_ID_LENGTH && (v === null || (Number.isSafeInteger(v) && (v as number) >= 0))) {
    return { kind: 'user', userId: u, version: v as number | null }
  }
  if (typeof s === 'string' && s.length > 0 && s.length <= MAX_ID_LENGTH) return { kind: 'session', sid: s }
  return null
}

/** The channel of one issuer's instances (instances with another JWT_ISSUER cannot verify these tokens anyway). */
export const revocationChannel = (issuer: string): string => `tessera:revocations:${issuer}`

/**
 * Publishing uses the fail-fast command connection, so a revoking request never waits for Redis; listening needs the
 * client's subscriber connection (see createRedisClient).
 */
export function createRedisBus (url: string, channel: string, log: RedisLog): RevocationBus {
  const redis = createRedisClient(url, log, {
    whileDown: 'revocations reach other instances within REVOCATION_CACHE_TTL until it is back',
    whenBack: 'revocations reach other instances at once again'
  })
  const subscriber = redis.subscriber()
  const publisher = redis.commands

  // Without an offline queue, a publish made before the first connection is up would fail at once: the command line
  // publishes right after it connects. Until the publisher is ready or has failed once, publishes wait for it (briefly).
  const firstConnection = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, FIRST_CONNECTION_WAIT_MS).unref()
    const settle = (): void => { clearTimeout(timer); resolve() }
    publisher.once('ready', settle)
    publisher.once('error', settle)
  })
  const inFlight = new Set<Promise<void>>()

  return {
    publish (event) {
      const sending = firstConnection.then(() => publisher.publish(channel, encodeEvent(event))).then(() => {}, redis.failed)
      inFlight.add(sending)
      void sending.finally(() => inFlight.delete(sending))
    },
    async subscribe (handler) {
      subscriber.on('message', (from: string, message: string) => {
        if (from !== channel) return
        const event = decodeEvent(message)
        if (event !== null) handler(event)
      })
      const subscribed = subscriber.subscribe(channel).then(() => {}, () => {})
      let timer: NodeJS.Timeout | undefined
      await Promise.race([subscribed, new Promise<void>((resolve) => { timer = setTimeout(resolve, SUBSCRIBE_WAIT_MS) })])
      clearTimeout(timer)
    },
    async close () {
      await Promise.allSettled([...inFlight])
      redis.close()
    }
  }
}
