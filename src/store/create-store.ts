// Picks the store implementation from DATABASE_URL.
import type { Clock } from '../clock'
import type * as PostgresStore from './postgres-store'
import type { PermissionLog } from './private-files'
import { createSqliteStore } from './sqlite-store'
import type { UserStore } from './user-store'

/** `log` hears of SQLite files whose mode was tightened at start. */
export function createStore (databaseUrl: string, clock: Clock, log?: PermissionLog): UserStore {
  if (databaseUrl.startsWith('sqlite:')) return createSqliteStore({ path: databaseUrl.slice('sqlite:'.length), clock, log })
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    // Required only for a PostgreSQL URL: pg costs about 10 MiB and start-up time a SQLite server should not pay.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deferred load needs a synchronous require
    const { createPostgresStore } = require('./postgres-store') as typeof PostgresStore
    return createPostgresStore({ url: databaseUrl, clock })
  }
  throw new Error(`DATABASE_URL: unsupported store ${databaseUrl.split(':')[0]}`)
}
