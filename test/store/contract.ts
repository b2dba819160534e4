// The behaviour every UserStore implementation must show; each store's test file runs it.
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { ID_PATTERN } from '../../src/lib/ids'
import { EmailTakenError, LastAdminError, StoreUnavailableError } from '../../src/store/user-store'
import type { NewUser, UserRecord, UserStore } from '../../src/store/user-store'
import { mfaContract } from './mfa-contract'
import { securityEventContract } from './security-event-contract'
import { newSession, SID_A, sessionContract } from './session-contract'

export type MakeStore = (clock: ManualClock) => Promise<UserStore>

const START = Date.UTC(2026, 0, 1, 12, 0, 0, 123)
/** UUIDv7 in 26 Crockford base32 characters: bits 48-51 (the version) decode to 7. */
const isUuidV7Id = (id: string): boolean => ID_PATTERN.test(id) && ((decodeId(id) >> 76n) & 0xfn) === 7n
const decodeId = (id: string): bigint => [...id].reduce((v, c) => (v << 5n) | BigInt('0123456789abcdefghjkmnpqrstvwxyz'.indexOf(c)), 0n)

const newUser = (overrides: Partial<NewUser> = {}): NewUser => ({
  email: 'ada@example.io',
  name: 'Ada',
  role: 'user',
  passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
  ...overrides
})

/** The rejection reason, so a test can check both its class and its code. */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection') }, (err: unknown) => err)

export function storeContract (t: Test, name: string, makeStore: MakeStore): void {
  // Each case gets its own store and clock so cases cannot see each other's rows.
  const setup = async (t: Test) => {
    const clock = new ManualClock(START)
    const store = await makeStore(clock)
    t.teardown(() => store.close())
    return { clock, store }
  }

  t.test(`${name}: UserStore contract`, async t => {
    t.test('create returns the full record with a UUIDv7 id (base32) and clock times', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      t.ok(isUuidV7Id(user.id), `UUIDv7 id: ${user.id}`)
      t.strictSame(user, {
        id: user.id,
        email: 'ada@example.io',
        name: 'Ada',
        role: 'user',
        disabled: false,
        passwordHash: newUser().passwordHash,
        tokenVersion: 0,
        emailVerified: false,
        mfaEnabled: false,
        createdAt: new Date(START),
        updatedAt: new Date(START)
      })
      const nameless = await store.create(newUser({ email: 'root@example.io', name: null, role: 'admin' }))
      t.equal(nameless.name, null)
      t.equal(nameless.role, 'admin')
    })

    t.test('findById and findByEmail return the stored record or null', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      t.strictSame(await store.findById(user.id), user)
      t.strictSame(await store.findByEmail('ada@example.io'), user)
      t.equal(await store.findById('0190a000-0000-7000-8000-000000000000'), null)
      t.equal(await store.findByEmail('nobody@example.io'), null)
    })

    t.test('email uniqueness ignores case', async t => {
      const { store } = await setup(t)
      await store.create(newUser({ email: 'a@x.io' }))
      for (const email of ['a@x.io', 'A@X.IO']) {
        const err = await rejection(store.create(newUser({ email })))
        t.type(err, EmailTakenError, email)
        t.match(err, { code: 'ERR_EMAIL_TAKEN' }, email)
      }
      t.equal((await store.list({ limit: 10 })).length, 1)
    })

    t.test('concurrent registrations of one email yield exactly one account', async t => {
      const { store } = await setup(t)
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => store.create(newUser({ email: 'race@example.io' }))))
      const fulfilled = results.filter(r => r.status === 'fulfilled')
      const rejected = results.flatMap(r => r.status === 'rejected' ? [r.reason] : [])
      t.equal(fulfilled.length, 1)
      t.equal(rejected.length, 19)
      t.ok(rejected.every(reason => reason instanceof EmailTakenError), 'every loser gets EmailTakenError')
      t.equal((await store.list({ limit: 100 })).length, 1)
    })

    t.test('update changes only the given fields and stamps updatedAt', async t => {
      const { clock, store } = await setup(t)
      const user = await store.create(newUser())
      clock.advance(60_000)
      const updated = await store.update(user.id, { name: 'Ada L.', role: 'admin', disabled: true })
      const expected = { ...user, name: 'Ada L.', role: 'admin', disabled: true, updatedAt: new Date(START + 60_000) }
      t.strictSame(updated, expected)
      t.strictSame(await store.findById(user.id), expected)

      clock.advance(1)
      const cleared = await store.update(user.id, { name: null })
      t.strictSame(cleared, { ...expected, name: null, updatedAt: new Date(START + 60_001) })

      clock.advance(1)
      const untouched = await store.update(user.id, {})
      t.strictSame(untouched, { ...expected, name: null, updatedAt: new Date(START + 60_002) })
    })

    t.test('bumpTokenVersion adds exactly one, in the same write as a password change', async t => {
      const { clock, store } = await setup(t)
      const user = await store.create(newUser())
      clock.advance(1000)
      const first = await store.update(user.id, { passwordHash: 'new-hash', bumpTokenVersion: true })
      t.strictSame(first, { ...user, passwordHash: 'new-hash', tokenVersion: 1, updatedAt: new Date(START + 1000) })
      const second = await store.update(user.id, { bumpTokenVersion: true })
      t.equal(second?.tokenVersion, 2)
      t.equal(second?.passwordHash, 'new-hash')
      const unbumped = await store.update(user.id, { bumpTokenVersion: false, name: 'x' })
      t.equal(unbumped?.tokenVersion, 2)
      t.equal((await store.findById(user.id))?.tokenVersion, 2)
    })

    t.test('emailVerified: false unless created verified; update sets and clears it alone', async t => {
      const { clock, store } = await setup(t)
      const verified = await store.create(newUser({ email: 'root@example.io', emailVerified: true }))
      t.equal(verified.emailVerified, true)
      t.equal((await store.findByEmail('root@example.io'))?.emailVerified, true)
      const user = await store.create(newUser())
      t.equal(user.emailVerified, false)
      clock.advance(1000)
      const set = await store.update(user.id, { emailVerified: true })
      t.strictSame(set, { ...user, emailVerified: true, updatedAt: new Date(START + 1000) }, 'only emailVerified and updatedAt change')
      t.equal((await store.update(user.id, { name: 'x' }))?.emailVerified, true, 'kept when absent from the patch')
      t.equal((await store.update(user.id, { emailVerified: false }))?.emailVerified, false)
      t.equal((await store.findById(user.id))?.emailVerified, false)
    })

    t.test('ifTokenVersion: the patch applies only while the version matches (compare-and-set)', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      t.equal(await store.update(user.id, { passwordHash: 'stale', bumpTokenVersion: true, ifTokenVersion: 1 }), null, 'a stale version changes nothing')
      t.strictSame(await store.findById(user.id), user)
      const won = await store.update(user.id, { passwordHash: 'new', bumpTokenVersion: true, emailVerified: true, ifTokenVersion: 0 })
      t.match(won, { passwordHash: 'new', tokenVersion: 1, emailVerified: true })
      t.equal(await store.update(user.id, { passwordHash: 'again', bumpTokenVersion: true, ifTokenVersion: 0 }), null, 'the same version twice: once')
      t.equal((await store.findById(user.id))?.passwordHash, 'new')
      t.equal(await store.update('0190a000-0000-7000-8000-000000000000', { name: 'x', ifTokenVersion: 0 }), null, 'unknown id')
    })

    t.test('concurrent compare-and-set updates on one version: exactly one applies', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        store.update(user.id, { passwordHash: `hash-${i}`, bumpTokenVersion: true, ifTokenVersion: 0 })))
      const winners = results.filter(r => r !== null)
      t.equal(winners.length, 1)
      const stored = await store.findById(user.id)
      t.equal(stored?.tokenVersion, 1, 'bumped once')
      t.equal(stored?.passwordHash, winners[0]?.passwordHash)
    })

    t.test('update and delete of an unknown id', async t => {
      const { store } = await setup(t)
      const unknown = '0190a000-0000-7000-8000-000000000000'
      t.equal(await store.update(unknown, { name: 'x', bumpTokenVersion: true }), null)
      t.equal(await store.delete(unknown), false)
    })

    t.test('list pages by id in creation order', async t => {
      const { clock, store } = await setup(t)
      const created: UserRecord[] = []
      for (let i = 0; i < 7; i++) {
        created.push(await store.create(newUser({ email: `user${i}@example.io` })))
        clock.advance(1000)
      }
      const pages: UserRecord[][] = []
      let after: string | undefined
      for (;;) {
        const page = await store.list({ limit: 3, after })
        if (page.length === 0) break
        pages.push(page)
        after = page[page.length - 1].id
      }
      t.strictSame(pages.map(p => p.length), [3, 3, 1])
      t.strictSame(pages.flat().map(u => u.email), created.map(u => u.email))
      t.strictSame(pages.flat(), created)
      t.strictSame(await store.list({ limit: 3, after: created[6].id }), [])
    })

    t.test('delete removes the user and frees the email', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      const other = await store.create(newUser({ email: 'other@example.io' }))
      t.equal(await store.delete(user.id), true)
      t.equal(await store.delete(user.id), false)
      t.equal(await store.findById(user.id), null)
      t.equal(await store.findByEmail(user.email), null)
      t.strictSame(await store.list({ limit: 10 }), [other])
      const again = await store.create(newUser())
      t.not(again.id, user.id)
      t.equal(again.email, user.email)
    })

    sessionContract(t, setup)
    mfaContract(t, setup)
    securityEventContract(t, setup)
    t.test('keepActiveAdmin: the last active admin cannot be demoted, disabled or deleted; anyone else can', async t => {
      const { store } = await setup(t)
      const ada = await store.create(newUser({ role: 'admin' }))
      const bob = await store.create(newUser({ email: 'bob@example.io' }))
      const guarded = { keepActiveAdmin: true }
      for (const patch of [{ role: 'user' as const }, { disabled: true }, { role: 'user' as const, disabled: true }]) {
        const err = await rejection(store.update(ada.id, { ...patch, bumpTokenVersion: true, ...guarded }))
        t.type(err, LastAdminError, JSON.stringify(patch))
        t.match(err, { code: 'ERR_LAST_ADMIN' })
      }
      t.type(await rejection(store.delete(ada.id, guarded)), LastAdminError, 'delete')
      t.strictSame(await store.findById(ada.id), ada, 'nothing changed, not even the token version')
      t.match(await store.update(ada.id, { name: 'Ada L.', role: 'admin', disabled: false, ...guarded }), { name: 'Ada L.' }, 'a patch that keeps the admin applies')
      t.match(await store.update(bob.id, { disabled: true, ...guarded }), { disabled: true }, 'a user is no admin to keep')
      t.equal(await store.update(ada.id, { role: 'user', ifTokenVersion: 7, ...guarded }), null, 'a compare-and-set that does not apply is no refusal')
      t.equal(await store.update('0190a000-0000-7000-8000-000000000000', { role: 'user', ...guarded }), null, 'unknown id')
      t.equal(await store.delete('0190a000-0000-7000-8000-000000000000', guarded), false, 'unknown id')

      // A disabled admin is not an active one: it cannot stand in for the last.
      await store.update(bob.id, { role: 'admin' })
      t.type(await rejection(store.update(ada.id, { role: 'user', ...guarded })), LastAdminError, 'bob is an admin but disabled')
      await store.update(bob.id, { disabled: false })
      t.match(await store.update(ada.id, { role: 'user', ...guarded }), { role: 'user' }, 'with another active admin, the demotion applies')
      t.type(await rejection(store.delete(bob.id, guarded)), LastAdminError, 'bob is now the last')
      t.equal(await store.delete(ada.id, guarded), true, 'a former admin goes')
      t.equal(await store.delete(bob.id), true, 'unguarded, the store does what it is told')
    })

    t.test('keepActiveAdmin under concurrency: admins removing each other at once leave exactly one', async t => {
      const { store } = await setup(t)
      const admins: UserRecord[] = []
      for (let i = 0; i < 6; i++) admins.push(await store.create(newUser({ email: `admin${i}@example.io`, role: 'admin' })))
      // Each admin is demoted, disabled or deleted by a concurrent guarded write.
      const results = await Promise.allSettled(admins.map((a, i) => i % 3 === 0
        ? store.delete(a.id, { keepActiveAdmin: true })
        : store.update(a.id, i % 3 === 1 ? { role: 'user', keepActiveAdmin: true } : { disabled: true, keepActiveAdmin: true })))
      const refused = results.flatMap(r => r.status === 'rejected' ? [r.reason] : [])
      t.equal(refused.length, 1, 'exactly one write refused')
      t.type(refused[0], LastAdminError)
      const remaining = (await store.list({ limit: 10 })).filter(u => u.role === 'admin' && !u.disabled)
      t.equal(remaining.length, 1, 'one active admin remains')
    })

    t.test('passwordHashParameters lists each distinct argon2 parameter segment once', async t => {
      const { store } = await setup(t)
      t.strictSame(await store.passwordHashParameters(), [], 'none without users')
      await store.create(newUser())
      await store.create(newUser({ email: 'b@example.io', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$b3RoZXI$b3RoZXI' }))
      await store.create(newUser({ email: 'c@example.io', passwordHash: '$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA' }))
      await store.create(newUser({ email: 'd@example.io', passwordHash: '$argon2i$v=19$m=4096,p=1,t=3$c2FsdA$aGFzaA' }))
      await store.create(newUser({ email: 'e@example.io', passwordHash: 'not a PHC string' }))
      t.strictSame((await store.passwordHashParameters()).sort(), ['m=19456,t=2,p=1', 'm=4096,p=1,t=3', 'm=65536,t=3,p=1'])
    })

    t.test('migrate is idempotent', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      await store.migrate()
      await store.migrate()
      t.strictSame(await store.findById(user.id), user)
    })

    t.test('ping resolves', async t => {
      const { store } = await setup(t)
      t.equal(await store.ping(), undefined)
    })

    t.test('after close every call rejects with StoreUnavailableError', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      await store.close()
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['ping', () => store.ping()],
        ['create', () => store.create(newUser({ email: 'late@example.io' }))],
        ['findById', () => store.findById(user.id)],
        ['findByEmail', () => store.findByEmail(user.email)],
        ['list', () => store.list({ limit: 10 })],
        ['update', () => store.update(user.id, { name: 'x' })],
        ['delete', () => store.delete(user.id)],
        ['createSession', () => store.createSession(newSession(user.id), { maxPerUser: 5 })],
        ['rotateSession', () => store.rotateSession(SID_A, 0, { ip: null })],
        ['findSession', () => store.findSession(SID_A)],
        ['listActiveSessions', () => store.listActiveSessions(user.id)],
        ['endSession', () => store.endSession(SID_A, 'logout')],
        ['endUserSessions', () => store.endUserSessions(user.id, 'logout_all')],
        ['recordEndedSession', () => store.recordEndedSession({ id: SID_A, userId: user.id, expiresAt: new Date(START), reason: 'logout' })],
        ['revocationState', () => store.revocationState(user.id, SID_A)],
        ['purgeSessions', () => store.purgeSessions(new Date(START), 10)],
        ['update (keepActiveAdmin)', () => store.update(user.id, { role: 'user', keepActiveAdmin: true })],
        ['delete (keepActiveAdmin)', () => store.delete(user.id, { keepActiveAdmin: true })]
      ]
      for (const [method, call] of calls) {
        const err = await rejection(call())
        t.type(err, StoreUnavailableError, method)
        t.match(err, { code: 'ERR_STORE_UNAVAILABLE' }, method)
      }
      // Shutdown paths may close twice (signal handler and teardown).
      await t.resolves(store.close(), 'a second close resolves')
    })
  })
}
