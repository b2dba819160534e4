// Owner-only modes for an SQLite database and its directory: the file holds emails and password hashes.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs'
import path from 'node:path'

/** Where a tightened mode is reported: the app's logger, or the command line's stderr. */
export interface PermissionLog {
  warn (obj: { path: string, mode: string }, msg: string): void
}

const PRIVATE_DIR = 0o700
const PRIVATE_FILE = 0o600
/** WAL mode's companions; SQLite creates them with the main file's mode, so only leftovers need fixing. */
const COMPANION_SUFFIXES = ['-wal', '-shm']

const octal = (mode: number): string => (mode & 0o777).toString(8)

/** Each directory mkdirSync created, from the first one down to `dir`. */
function createdDirs (first: string, dir: string): string[] {
  const dirs: string[] = []
  for (let d = dir; d.length >= first.length; d = path.dirname(d)) {
    dirs.push(d)
    if (d === first) break
  }
  return dirs
}

/**
 * Called before SQLite opens `file`. A missing directory is created 0700 and a missing file 0600, with an
 * explicit chmod because the process umask would otherwise decide. An existing database file, -wal or
 * -shm that group or others can read is tightened to 0600, with a warning. An existing directory is
 * left as it is (it may be shared, the working directory even) with a warning if others can list it:
 * the files inside are private either way.
 */
export function preparePrivateDatabase (file: string, log?: PermissionLog): void {
  // Windows has no group or other mode bits; its ACLs are the operator's.
  if (process.platform === 'win32') return
  const dir = path.dirname(path.resolve(file))
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR })
  if (first !== undefined) {
    for (const d of createdDirs(first, dir)) chmodSync(d, PRIVATE_DIR)
  } else {
    const mode = statSync(dir).mode
    if ((mode & 0o077) !== 0) {
      log?.warn({ path: dir, mode: octal(mode) }, `database directory ${dir} can be listed by group or others (mode ${octal(mode)}); the files are 600, and chmod 700 ${dir} hides their names too`)
    }
  }

  if (statSync(file, { throwIfNoEntry: false }) === undefined) {
    // An empty file is an empty database to SQLite. 'a' never truncates, so two workers starting together are safe.
    closeSync(openSync(file, 'a', PRIVATE_FILE))
    chmodSync(file, PRIVATE_FILE)
  }
  for (const f of [file, ...COMPANION_SUFFIXES.map((suffix) => file + suffix)]) {
    const stat = statSync(f, { throwIfNoEntry: false })
    if (stat === undefined || (stat.mode & 0o077) === 0) continue
    chmodSync(f, PRIVATE_FILE)
    log?.warn({ path: f, mode: octal(stat.mode) }, `database file ${f} was readable by group or others (mode ${octal(stat.mode)}): tightened to 600`)
  }
}
