// What the database holds of a second factor: never a TOTP secret or a recovery code in clear, in either store. The
// whole database is read back as text (every table, every row) and searched for each secret in several spellings.
import path from 'node:path'
import Database from 'better-sqlite3'
import type { Test } from 'tap'
import t from 'tap'
import { ManualClock } from '../../src/clock'
import { normalizeRecoveryCode } from '../../src/mfa/recovery-codes'
import { SecretBox } from '../../src/mfa/secret-box'
import { createPostgresStore } from '../../src/store/postgres-store'
import { createSqliteStore } from '../../src/store/sqlite-store'
import type { UserStore } from '../../src/store/user-store'
import { bearer, build, register, START, TEST_MFA_KEY, type TestContext } from '../support/app'
import { testDatabase } from '../support/postgres'
import { requireService } from '../support/services'
import { oathtool } from '../support/totp'
import { challenge, enrol, verify } from './support'

/** Every spelling of a secret or code that would betray it: as shown, without hyphens, lower case, as raw bytes in hex. */
function spellings (value: string): string[] {
  const compact = value.replaceAll('-', '')
  return [value, compact, compact.toLowerCase(), Buffer.from(compact).toString('hex'), Buffer.from(compact).toString('base64')]
}

/** Enrol, sign in, renew the codes, use one: every MFA write the store knows. Returns every secret the user saw. */
async function exercise (t: Test, ctx: TestContext): Promise<{ userId: string, secrets: string[] }> {
  const { accessToken, user } = await register(ctx.app)
  const { secret, recoveryCodes } = await enrol(t, ctx, accessToken)
  const pending = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/recovery-codes', headers: bearer(accessToken), payload: { code: oathtool(secret, ctx.clock.now()) } })
  const renewed = pending.json<{ recoveryCodes: string[] }>().recoveryCodes
  ctx.clock.advance(30_000)
  t.equal((await verify(ctx.app, { mfaToken: (await challenge(t, ctx.app)).mfaToken, recoveryCode: renewed[0] })).statusCode, 200)
  return { userId: user.id, secrets: [secret, ...recoveryCodes, ...renewed] }
}

function assertNothingInClear (t: Test, dump: string, secrets: string[]): void {
  t.ok(dump.length > 1000, `the dump holds the database (${dump.length} characters)`)
  for (const secret of secrets) {
    for (const spelling of spellings(secret)) t.notOk(dump.includes(spelling), `no ${spelling.slice(0, 4)}… in the database`)
  }
}

/** The stored secret is there, sealed: it opens with the key, to the secret the user saw. */
async function assertSealed (t: Test, store: UserStore, userId: string, secret: string): Promise<void> {
  const state = await store.mfaState(userId)
  t.match(state?.secret, /^v1\./)
  t.equal(new SecretBox(Buffer.from(TEST_MFA_KEY, 'base64')).open(state!.secret!, userId), secret)
  t.equal(state?.recoveryCodesLeft, 9)
  t.notOk(normalizeRecoveryCode(state!.secret!), 'the sealed value is no code')
}

t.test('SQLite: the database file holds no secret or recovery code in clear', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const file = path.join(t.testdir(), 'tessera.db')
  const clock = new ManualClock(START)
  const store = createSqliteStore({ path: file, clock })
  const ctx = await build(t, { clock, store })
  const { userId, secrets } = await exercise(t, ctx)
  await assertSealed(t, store, userId, secrets[0])
  const db = new Database(file, { readonly: true })
  t.teardown(() => db.close())
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => row.name)
  t.ok(tables.includes('mfa_recovery_codes'))
  const dump = tables.map((name) => JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all())).join('\n')
  assertNothingInClear(t, dump, secrets)
})

t.test('PostgreSQL: no table of the schema holds a secret or recovery code in clear', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const database = await testDatabase(t)
  if (database === null) return
  const schema = await database.freshSchema(t)
  const clock = new ManualClock(START)
  const store = createPostgresStore({ url: schema.url, clock })
  const ctx = await build(t, { clock, store })
  const { userId, secrets } = await exercise(t, ctx)
  await assertSealed(t, store, userId, secrets[0])
  const { rows } = await database.admin.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema.name])
  t.ok(rows.some((row) => row.table_name === 'mfa_recovery_codes'))
  const parts: string[] = []
  for (const { table_name: table } of rows) {
    parts.push(JSON.stringify((await database.admin.query(`SELECT * FROM ${schema.name}."${table}"`)).rows))
  }
  assertNothingInClear(t, parts.join('\n'), secrets)
})
