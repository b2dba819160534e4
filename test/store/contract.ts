// The behaviour every UserStore implementation must show; each store's test file runs it.
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { ID_PATTERN } from '../../src/lib/ids'
import { EmailTakenError, StoreUnavailableError } from '../../src/store/user-store'
import type { NewUser, UserRecord, UserStore } from '../../src/store/user-store'

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

    t.test('revocationState: the token version (null for no such user) and whether the sid is revoked', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      t.strictSame(await store.revocationState(user.id, 'AAAAAAAAAAAAAAAA'), { tokenVersion: 0, sessionRevoked: false })
      await store.update(user.id, { bumpTokenVersion: true })
      t.strictSame(await store.revocationState(user.id, 'AAAAAAAAAAAAAAAA'), { tokenVersion: 1, sessionRevoked: false })
      await store.revokeSession({ sid: 'AAAAAAAAAAAAAAAA', userId: user.id, expiresAt: new Date(START + 60_000) })
      t.strictSame(await store.revocationState(user.id, 'AAAAAAAAAAAAAAAA'), { tokenVersion: 1, sessionRevoked: true })
      t.strictSame(await store.revocationState(user.id, 'BBBBBBBBBBBBBBBB'), { tokenVersion: 1, sessionRevoked: false }, 'another sid of the user')
      t.strictSame(await store.revocationState('0190a000-0000-7000-8000-000000000000', 'AAAAAAAAAAAAAAAA'),
        { tokenVersion: null, sessionRevoked: true }, 'an unknown user; the sid is looked up on its own')
      await store.delete(user.id)
      t.strictSame(await store.revocationState(user.id, 'CCCCCCCCCCCCCCCC'), { tokenVersion: null, sessionRevoked: false }, 'a deleted user')
    })

    t.test('revokeSession is idempotent and keeps the later expiry; purge deletes rows expired at or before now', async t => {
      const { clock, store } = await setup(t)
      const user = await store.create(newUser())
      const early = { sid: 'early-sid-000000', userId: user.id, expiresAt: new Date(START + 1000) }
      const late = { sid: 'late-sid-0000000', userId: user.id, expiresAt: new Date(START + 10_000) }
      await store.revokeSession(early)
      await store.revokeSession(late)
      await store.revokeSession({ ...late, expiresAt: new Date(START + 5000) })
      await store.revokeSession({ ...early, expiresAt: new Date(START + 2000) })
      // A row for a user that is gone (or never was): logout racing a deletion must not fail.
      await store.revokeSession({ sid: 'orphan-sid-00000', userId: '0190a000-0000-7000-8000-000000000000', expiresAt: new Date(START + 1000) })

      t.equal(await store.purgeRevokedSessions(new Date(START + 999)), 0, 'nothing expired yet')
      t.equal(await store.purgeRevokedSessions(new Date(START + 1000)), 1, 'expiry is inclusive: the orphan goes')
      t.equal((await store.revocationState(user.id, early.sid)).sessionRevoked, true, 'early was extended to +2 s')
      clock.advance(5000)
      t.equal(await store.purgeRevokedSessions(new Date(START + 5000)), 1, 'early goes at +2 s, late stays (its +10 s was kept)')
      t.equal((await store.revocationState(user.id, early.sid)).sessionRevoked, false)
      t.equal((await store.revocationState(user.id, late.sid)).sessionRevoked, true)
      t.equal(await store.purgeRevokedSessions(new Date(START + 10_000)), 1)
      t.equal((await store.revocationState(user.id, late.sid)).sessionRevoked, false)
      t.equal(await store.purgeRevokedSessions(new Date(START + 10_000)), 0)
    })

    t.test('concurrent revocations of one sid: one row, no error', async t => {
      const { store } = await setup(t)
      const user = await store.create(newUser())
      await Promise.all(Array.from({ length: 10 }, (_, i) =>
        store.revokeSession({ sid: 'racing-sid-00000', userId: user.id, expiresAt: new Date(START + 1000 * (i + 1)) })))
      t.equal((await store.revocationState(user.id, 'racing-sid-00000')).sessionRevoked, true)
      t.equal(await store.purgeRevokedSessions(new Date(START + 9999)), 0, 'the latest expiry (+10 s) won')
      t.equal(await store.purgeRevokedSessions(new Date(START + 10_000)), 1, 'exactly one row')
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
        ['revokeSession', () => store.revokeSession({ sid: 'closed-sid-00000', userId: user.id, expiresAt: new Date(START) })],
        ['revocationState', () => store.revocationState(user.id, 'closed-sid-00000')],
        ['purgeRevokedSessions', () => store.purgeRevokedSessions(new Date(START))]
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
