// The one way Tessera connects to Redis (rate-limit counters, the revocation bus): options, outage reporting, start-up wait.
import type * as IORedis from 'ioredis'
import type { default as Redis, RedisOptions } from 'ioredis'

export interface RedisLog { warn (obj: object, msg: string): void, info (msg: string): void }

/** What Redis is for, in the log lines of an outage: "redis unavailable: <whileDown>", "redis is back: <whenBack>". */
export interface RedisPurpose { whileDown: string, whenBack: string }

export interface RedisClient {
  /**
   * The connection for commands. It fails fast instead of queueing (no offline queue, 500 ms command timeout):
   * with Redis down, a request must not wait for it, and each use decides what a failure means.
   */
  readonly commands: Redis
  /**
   * A second connection, made on first call, for SUBSCRIBE: a subscribed connection can do nothing but listen. It
   * queues its SUBSCRIBE until Redis answers, and ioredis renews the subscription after every reconnection.
   */
  subscriber (): Redis
  /** Resolves once the command connection is ready, or after `timeoutMs` (a Redis that is down must not hold up start-up). */
  ready (timeoutMs?: number): Promise<void>
  /** A failed command counts as the outage too (a Redis that hangs times out without a connection error). */
  failed (err: Error): void
  close (): void
}

const COMMON: RedisOptions = { connectTimeout: 1000, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) }
const COMMANDS: RedisOptions = { ...COMMON, commandTimeout: 500, maxRetriesPerRequest: 0, enableOfflineQueue: false }
const SUBSCRIBER: RedisOptions = { ...COMMON, maxRetriesPerRequest: null, enableOfflineQueue: true }

/** Connections to `url` for one purpose; an outage is logged once (not once per connection or failed command). */
export function createRedisClient (url: string, log: RedisLog, purpose: RedisPurpose): RedisClient {
  let down = false
  const onError = (err: Error): void => {
    if (!down) log.warn({ err: err.message }, `redis unavailable: ${purpose.whileDown}`)
    down = true
  }
  const onReady = (): void => {
    if (down) log.info(`redis is back: ${purpose.whenBack}`)
    down = false
  }
  // Required here, not at import: ioredis costs about 20 MiB and a few tens of milliseconds of start-up, which a
  // server without REDIS_URL (the default) should not pay.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deferred load needs a synchronous require
  const { default: RedisClass } = require('ioredis') as typeof IORedis
  const connect = (options: RedisOptions): Redis => {
    const connection = new RedisClass(url, options)
    connection.on('error', onError)
    connection.on('ready', onReady)
    return connection
  }
  const commands = connect(COMMANDS)
  let subscriber: Redis | undefined
  return {
    commands,
    subscriber: () => (subscriber ??= connect(SUBSCRIBER)),
    async ready (timeoutMs = 2000) {
      if (commands.status === 'ready') return
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>((resolve) => commands.once('ready', () => resolve())),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
      ])
      clearTimeout(timer)
    },
    failed: onError,
    close () {
      commands.disconnect()
      subscriber?.disconnect()
    }
  }
}
