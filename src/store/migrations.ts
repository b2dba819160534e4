// The versioned SQL migration files of one store, in order (NNN_name.sql).
import { readdirSync } from 'node:fs'

export interface Migration { version: number, name: string }

export function listMigrations (dir: string): Migration[] {
  const migrations = readdirSync(dir).flatMap((name) => {
    const match = /^(\d+)_.+\.sql$/.exec(name)
    return match === null ? [] : [{ version: Number(match[1]), name }]
  }).sort((a, b) => a.version - b.version)
  // Migrations are added by separate changes; two picking the same number must fail loudly, not race.
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new Error(`duplicate migration version ${migrations[i].version}: ${migrations[i - 1].name}, ${migrations[i].name}`)
    }
  }
  return migrations
}
