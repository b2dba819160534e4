// `npm run cli -- <command>`: user administration and migrations on the configured store; `keys …` is in keys-command.ts.
import { parseArgs } from 'node:util'
import { systemClock, type Clock } from '../clock'
import { ConfigError, loadConfig, type Config } from '../config'
import { normalizeEmail } from '../lib/email'
import { PasswordHasher } from '../lib/password-hasher'
import { ProblemError } from '../lib/problem'
import { AccountService } from '../services/account-service'
import { SessionService } from '../services/session-service'
import { createStore } from '../store/create-store'
import { ROLES, type Role, type UserRecord, type UserStore } from '../store/user-store'
import { longestTokenLifetime, TokenIssuer, tokenSettings } from '../tokens/token-issuer'
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
                        disable the account and revoke every session (token version bump);
                        refused for the last enabled admin (create another admin first)
  users enable --email E
                        allow the account to log in again
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
    if (size > MAX_PASSWORD_BYTES) throw new ProblemError({ status: 400, code: 'ERR_PASSWORD_TOO_LONG', title: 'Password refused', detail: `standard input holds more than ${MAX_PASSWORD_BYTES} bytes` })
    chunks.push(bytes)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new ProblemError({ status: 400, code: 'ERR_PASSWORD_MALFORMED', title: 'Password refused', detail: 'standard input is not valid UTF-8' })
  }
  if (text.endsWith('\r\n')) return text.slice(0, -2)
  if (text.endsWith('\n')) return text.slice(0, -1)
  return text
}

interface Session { store: UserStore, accounts: AccountService }

/** The store the server uses (same DATABASE_URL, migrated), and the account rules over it; closed afterwards. */
async function withAccounts<T> (io: CliIo, work: (session: Session) => Promise<T>): Promise<T> {
  const clock = io.clock ?? systemClock
  const { config } = io
  const store = createStore(config.databaseUrl, clock, { warn: (_fields, message) => io.stderr.write(`warning: ${message}\n`) })
  try {
    await store.migrate()
    const issuer = new TokenIssuer(() => { throw new Error('the command line issues no tokens') }, tokenSettings(config.jwt), clock)
    // Disabling a user or changing a role ends the user's sessions, as the API does.
    const sessions = new SessionService({
      store,
      issuer,
      clock,
      sessionMaxAge: config.jwt.sessionMaxAge,
      reuseGrace: config.sessions.reuseGrace,
      maxPerUser: config.sessions.maxPerUser,
      tokenLifetime: longestTokenLifetime(config.jwt),
      log: { warn: (_fields, message) => io.stderr.write(`warning: ${message}\n`) }
    })
    const accounts = new AccountService({
      store,
      hasher: new PasswordHasher(config.password.argon2),
      sessions,
      clock,
      passwordMinLength: config.password.minLength,
      sessionMaxAge: config.jwt.sessionMaxAge
    })
    return await work({ store, accounts })
  } finally {
    await store.close()
  }
}

async function findByEmail (store: UserStore, raw: string): Promise<UserRecord> {
  const email = normalizeEmail(raw)
  if (email === null) throw new ProblemError({ status: 400, code: 'ERR_VALIDATION', title: 'Invalid email', detail: 'not an email address' })
  const user = await store.findByEmail(email)
  if (user === null) throw new ProblemError({ status: 404, code: 'ERR_USER_NOT_FOUND', title: 'User not found', detail: `no user has the email ${email}` })
  return user
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
  const user = await withAccounts(io, ({ accounts }) =>
    accounts.createUser({ email, password, role, ...(values.name !== undefined ? { name: values.name } : {}) }))
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
  const users = await withAccounts(io, async ({ store }) => {
    const found: ListedUser[] = []
    let after: string | undefined
    // Keyset pages, as the API does, so a large table is never loaded at once by one query.
    while (found.length < limit) {
      const page = await store.list({ limit: Math.min(LIST_PAGE, limit - found.length), ...(after !== undefined ? { after } : {}) })
      for (const u of page) found.push({ id: u.id, email: u.email, role: u.role, disabled: u.disabled, createdAt: u.createdAt.toISOString() })
      if (page.length < LIST_PAGE) break
      after = page[page.length - 1].id
    }
    return found
  })
  io.stdout.write(values.json === true ? users.map((u) => JSON.stringify(u) + '\n').join('') : table(users))
  return EXIT_OK
}

async function usersSetDisabled (command: string, disabled: boolean, args: string[], io: CliIo): Promise<number> {
  const values = parse(command, args, { email: { type: 'string' } })
  const raw = required(command, values.email, '--email')
  const { before, after } = await withAccounts(io, async ({ store, accounts }) => {
    const user = await findByEmail(store, raw)
    // The admin route's rules: disabling bumps the token version, so every refresh token dies now, and the
    // last enabled administrator is refused (ERR_LAST_ADMIN).
    return { before: user, after: await accounts.adminUpdate(user.id, { disabled }) }
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

/** `users create|list|disable|enable …` */
export async function runUsersCommand (args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args
  switch (command) {
    case 'create': return usersCreate(rest, io)
    case 'list': return usersList(rest, io)
    case 'disable': return usersSetDisabled('users disable', true, rest, io)
    case 'enable': return usersSetDisabled('users enable', false, rest, io)
    default: throw new UsageError(command === undefined ? 'users: a subcommand is required' : `users: unknown subcommand ${command}`)
  }
}

/** `migrate`: apply pending migrations (idempotent). */
export async function runMigrateCommand (args: string[], io: CliIo): Promise<number> {
  parse('migrate', args, {})
  const kind = await withAccounts(io, async ({ store }) => store.kind)
  // DATABASE_URL is not printed: a PostgreSQL URL may hold a password.
  io.stdout.write(`migrations applied: the ${kind} store is up to date\n`)
  return EXIT_OK
}

const describe = (err: unknown): string => {
  if (err instanceof ProblemError) return `${err.detail} (${err.code})`
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
