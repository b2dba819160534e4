// `npm run cli -- <command>`: user administration and migrations on the configured store; `keys …` is in keys-command.ts.
import { parseArgs } from 'node:util'
import { systemClock, type Clock } from '../clock'
import { ConfigError, loadConfig, type Config } from '../config'
import { Errors, TesseraError } from '../errors'
import { createKeyProvider, keysOnFirstUse } from '../keys/key-provider'
import { createServices, type ServiceLog, type Services } from '../services/create-services'
import { ROLES, type Role, type UserRecord } from '../store/user-store'
import { runKeysCommand } from './keys-command'

export interface CliIo {
  config: Config
  /** Read only by `users create --password-stdin`. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: { write (s: string): unknown }
  stderr: { write (s: string): unknown }
  clock?: Clock
}

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export const USAGE = `usage: npm run cli -- <command>
  users create --email E [--name N] [--role user|admin] --password-stdin
                        create an account; the password is read from standard input
                        (e.g. printf '%s' "$PASSWORD" | npm run cli -- users create …)
  users list [--limit N] [--json]
                        id, email, role, disabled, createdAt (a table, or JSON lines)
  users disable --email E
                        disable the account and revoke every session (token version bump;
                        with REVOCATION_MODE=hybrid running servers refuse its tokens at once);
                        refused for the last enabled admin (create another admin first)
  users enable --email E
                        allow the account to log in again
  users reset-mfa --email E
                        turn off two-factor sign-in (a lost phone and lost recovery codes) and
                        end every session; check who is asking first (docs/operations.md)
  migrate               apply pending database migrations
  keys list | rotate [--alg ALG] | retire KID
                        signing keys in JWT_KEYS_DIR (also npm run keys -- …)
`

/** The longest password input read; the policy allows 128 code points, at most 4 bytes each in UTF-8. */
const MAX_PASSWORD_BYTES = 4096
const LIST_PAGE = 100

class UsageError extends Error {}

// parseArgs quotes the offending argument; `--pass=secret` must not put the secret on screen or in CI logs.
const redactValues = (message: string): string => message.replace(/(-{1,2}[\w-]+)=[^'"\s]*/g, '$1=…')

function parse<O extends Record<string, { type: 'string' | 'boolean' }>> (command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError(`${command}: ${redactValues((err as Error).message.split('. ')[0])}`)
  }
}

function refusePasswordArgument (args: string[]): void {
  if (args.some((a) => a === '--password' || a.startsWith('--password='))) {
    // A command-line argument is visible to every local user (ps, /proc) and lands in shell history.
    throw new UsageError('users create: --password is not accepted; pipe the password on standard input with --password-stdin')
  }
}

/** Everything up to end of input, as UTF-8, without one trailing newline (echo and heredocs add it). */
async function readPassword (stdin: CliIo['stdin']): Promise<string> {
  if (stdin.isTTY === true) {
    // Typed at a terminal it would be echoed to the screen and its scrollback.
    throw new UsageError('users create: --password-stdin reads a pipe, not a terminal: printf \'%s\' "$PASSWORD" | npm run cli -- users create …')
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    size += bytes.length
    if (size > MAX_PASSWORD_BYTES) throw Errors.weakPassword('ERR_PASSWORD_TOO_LONG', `standard input holds more than ${MAX_PASSWORD_BYTES} bytes`)
    chunks.push(bytes)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw Errors.weakPassword('ERR_PASSWORD_MALFORMED', 'standard input is not valid UTF-8')
  }
  if (text.endsWith('\r\n')) return text.slice(0, -2)
  if (text.endsWith('\n')) return text.slice(0, -1)
  return text
}

/** Warnings (a database file whose mode was tightened, Redis unreachable) and errors go to stderr; the rest is quiet. */
function stderrLog (stderr: CliIo['stderr']): ServiceLog {
  const write = (level: string) => (obj: object, msg: string): void => {
    const err = (obj as { err?: unknown }).err
    stderr.write(`${level}: ${msg}${typeof err === 'string' ? ` (${err})` : ''}\n`)
  }
  return { debug: () => {}, info: () => {}, warn: write('warning'), error: write('error') }
}

/**
 * The services the server runs on (same DATABASE_URL, migrated; in hybrid mode the same revocation bus, so a
 * disabled user's tokens are refused by every running instance at once), closed afterwards. Signing keys are
 * loaded only if a command signs something: none does, so none is generated or needed.
 */
async function withServices<T> (io: CliIo, work: (services: Services) => Promise<T>): Promise<T> {
  const clock = io.clock ?? systemClock
  const { config } = io
  const log = stderrLog(io.stderr)
  const services = await createServices(config, { clock, log, keys: keysOnFirstUse(() => createKeyProvider(config.jwt, clock, log)) })
  try {
    return await work(services)
  } finally {
    await services.close()
  }
}

function required (command: string, value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command}: ${option} is required`)
  return value
}

async function usersCreate (args: string[], io: CliIo): Promise<number> {
  refusePasswordArgument(args)
  const values = parse('users create', args, {
    email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, 'password-stdin': { type: 'boolean' }
  })
  const email = required('users create', values.email, '--email')
  const role = (values.role ?? 'user') as Role
  if (!ROLES.includes(role)) throw new UsageError(`users create: --role must be ${ROLES.join(' or ')}`)
  if (values['password-stdin'] !== true) throw new UsageError('users create: --password-stdin is required (the password is read from standard input)')
  const password = await readPassword(io.stdin)
  const user = await withServices(io, ({ admin }) =>
    admin.createUser({ email, password, role, ...(values.name !== undefined ? { name: values.name } : {}) }))
  io.stdout.write(`created ${user.role} ${user.email} (id ${user.id})\n`)
  return EXIT_OK
}

type ListedUser = Pick<UserRecord, 'id' | 'email' | 'role' | 'disabled'> & { createdAt: string }

function table (rows: ListedUser[]): string {
  const all = [['ID', 'EMAIL', 'ROLE', 'DISABLED', 'CREATED'], ...rows.map((u) => [u.id, u.email, u.role, String(u.disabled), u.createdAt])]
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n'
}

async function usersList (args: string[], io: CliIo): Promise<number> {
  const values = parse('users list', args, { limit: { type: 'string' }, json: { type: 'boolean' } })
  let limit = Number.POSITIVE_INFINITY
  if (values.limit !== undefined) {
    if (!/^[1-9]\d{0,6}$/.test(values.limit)) throw new UsageError('users list: --limit must be a positive integer')
    limit = Number(values.limit)
  }
  const users = await withServices(io, async ({ admin }) => {
    const found: ListedUser[] = []
    let cursor: string | null | undefined
    // The API's keyset pages, so a large table is never loaded at once by one query.
    while (found.length < limit && cursor !== null) {
      const page = await admin.listUsers({ limit: Math.min(LIST_PAGE, limit - found.length), ...(cursor !== undefined ? { cursor } : {}) })
      for (const u of page.users) found.push({ id: u.id, email: u.email, role: u.role, disabled: u.disabled, createdAt: u.createdAt.toISOString() })
      cursor = page.nextCursor
    }
    return found
  })
  io.stdout.write(values.json === true ? users.map((u) => JSON.stringify(u) + '\n').join('') : table(users))
  return EXIT_OK
}

async function usersSetDisabled (command: string, disabled: boolean, args: string[], io: CliIo): Promise<number> {
  const values = parse(command, args, { email: { type: 'string' } })
  const raw = required(command, values.email, '--email')
  const { before, after } = await withServices(io, async ({ admin }) => {
    const user = await admin.getUserByEmail(raw)
    // PATCH /v1/users/{id}: disabling bumps the token version (and publishes it in hybrid mode), so every token
    // dies now, and the last enabled administrator is refused (ERR_LAST_ADMIN).
    return { before: user, after: await admin.updateUser(user.id, { disabled }) }
  })
  if (before.disabled === disabled) {
    io.stdout.write(`${after.email} was already ${disabled ? 'disabled' : 'enabled'}\n`)
  } else if (disabled) {
    io.stdout.write(`disabled ${after.email} (id ${after.id}): every session is revoked\n`)
  } else {
    io.stdout.write(`enabled ${after.email} (id ${after.id})\n`)
  }
  return EXIT_OK
}

/** As DELETE /v1/users/{id}/mfa; here too for the administrator who is the one locked out. */
async function usersResetMfa (args: string[], io: CliIo): Promise<number> {
  const values = parse('users reset-mfa', args, { email: { type: 'string' } })
  const raw = required('users reset-mfa', values.email, '--email')
  const user = await withServices(io, async ({ admin }) => {
    const found = await admin.getUserByEmail(raw)
    await admin.resetMfa(found.id)
    return found
  })
  io.stdout.write(`two-factor sign-in is off for ${user.email} (id ${user.id}): every session has ended\n`)
  return EXIT_OK
}

/** `users create|list|disable|enable|reset-mfa …` */
export async function runUsersCommand (args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args
  switch (command) {
    case 'create': return usersCreate(rest, io)
    case 'list': return usersList(rest, io)
    case 'disable': return usersSetDisabled('users disable', true, rest, io)
    case 'enable': return usersSetDisabled('users enable', false, rest, io)
    case 'reset-mfa': return usersResetMfa(rest, io)
    default: throw new UsageError(command === undefined ? 'users: a subcommand is required' : `users: unknown subcommand ${command}`)
  }
}

/** `migrate`: apply pending migrations (idempotent). */
export async function runMigrateCommand (args: string[], io: CliIo): Promise<number> {
  parse('migrate', args, {})
  const kind = await withServices(io, async ({ store }) => store.kind)
  // DATABASE_URL is not printed: a PostgreSQL URL may hold a password.
  io.stdout.write(`migrations applied: the ${kind} store is up to date\n`)
  return EXIT_OK
}

const describe = (err: unknown): string => {
  if (err instanceof TesseraError) return `${err.detail} (${err.code})`
  if (err instanceof Error) return 'code' in err && typeof err.code === 'string' ? `${err.message} (${err.code})` : err.message
  return String(err)
}

/** Dispatch one command line; every outcome is an exit code, with the message on stderr. */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'users': return await runUsersCommand(rest, io)
      case 'migrate': return await runMigrateCommand(rest, io)
      case 'keys': return await runKeysCommand(rest, io.config, { stdout: io.stdout, stderr: io.stderr, ...(io.clock !== undefined ? { clock: io.clock } : {}) })
      case 'help': case '--help': case '-h':
        io.stdout.write(USAGE)
        return EXIT_OK
      default:
        throw new UsageError(command === undefined ? 'a command is required' : `unknown command ${command}`)
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${err.message}\n\n${USAGE}`)
      return EXIT_USAGE
    }
    io.stderr.write(`${command ?? 'cli'}${rest[0] !== undefined && command === 'users' ? ' ' + rest[0] : ''}: ${describe(err)}\n`)
    return EXIT_FAILURE
  }
}

async function main (argv: string[]): Promise<number> {
  if (argv.length === 0 || ['help', '--help', '-h'].includes(argv[0])) {
    (argv.length === 0 ? process.stderr : process.stdout).write(USAGE)
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK
  }
  let config: Config
  try {
    config = loadConfig(process.env, { dotenv: true })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${err.message}\n`)
    return EXIT_FAILURE
  }
  return runCli(argv, { config, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`cli: ${describe(err)}\n`)
    process.exitCode = EXIT_FAILURE
  })
}
