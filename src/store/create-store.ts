// Picks the store implementation from DATABASE_URL.
import type { Clock } from '../clock'
import { createPostgresStore } from './postgres-store'
import { createSqliteStore } from './sqlite-store'
import type { UserStore } from './user-store'

export function createStore (databaseUrl: string, clock: Clock): UserStore {
  if (databaseUrl.startsWith('sqlite:')) return createSqliteStore({ path: databaseUrl.slice('sqlite:'.length), clock })
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return createPostgresStore({ url: databaseUrl, clock })
  throw new Error(`DATABASE_URL: unsupported store ${databaseUrl.split(':')[0]}`)
}
