// The security-event half of the store contract (SecurityEventStore), run by contract.ts against every store.
import type { Test } from 'tap'
import type { ManualClock } from '../../src/clock'
import type { NewSecurityEvent, UserStore } from '../../src/store/user-store'

const DAY = 24 * 3600 * 1000
const USER = '0190a000-0000-7000-8000-00000000000a'
const OTHER = '0190a000-0000-7000-8000-00000000000b'

const event = (overrides: Partial<NewSecurityEvent> = {}): NewSecurityEvent => ({
  userId: USER,
  type: 'login_succeeded',
  ip: '203.0.113.7',
  deviceName: 'Firefox on Linux',
  sessionId: 'AAAAAAAAAAAAAAAA',
  actorId: null,
  detail: null,
  ...overrides
})

type Setup = (t: Test) => Promise<{ clock: ManualClock, store: UserStore }>

export function securityEventContract (t: Test, setup: Setup): void {
  t.test('security events: append returns the full record, stamped by the store clock; every field reads back', async t => {
    const { clock, store } = await setup(t)
    clock.advance(1234)
    const written = await store.appendSecurityEvent(event({ type: 'admin_disabled', actorId: OTHER, detail: 'command line', sessionId: null }))
    t.equal(written.createdAt.getTime(), clock.now())
    t.match(written, { userId: USER, type: 'admin_disabled', ip: '203.0.113.7', deviceName: 'Firefox on Linux', sessionId: null, actorId: OTHER, detail: 'command line' })
    const [read] = await store.listSecurityEvents(USER, { limit: 10 })
    t.same(read, written)
  })

  t.test('security events: listed newest first, per user, in pages by the id of the last one seen', async t => {
    const { clock, store } = await setup(t)
    const mine: string[] = []
    for (let i = 0; i < 5; i++) {
      clock.advance(1000)
      mine.push((await store.appendSecurityEvent(event({ detail: `n${i}` }))).id)
      await store.appendSecurityEvent(event({ userId: OTHER }))
    }
    const newestFirst = [...mine].reverse()
    const page1 = await store.listSecurityEvents(USER, { limit: 2 })
    t.same(page1.map((e) => e.id), newestFirst.slice(0, 2))
    const page2 = await store.listSecurityEvents(USER, { limit: 2, before: page1[1].id })
    t.same(page2.map((e) => e.id), newestFirst.slice(2, 4))
    const page3 = await store.listSecurityEvents(USER, { limit: 2, before: page2[1].id })
    t.same(page3.map((e) => e.id), newestFirst.slice(4))
    t.same(await store.listSecurityEvents('0190a000-0000-7000-8000-0000000000ff', { limit: 5 }), [], 'nobody else\'s')
  })

  t.test('security events: outlive the account (no foreign key), until purged', async t => {
    const { store } = await setup(t)
    const user = await store.create({ email: 'gone@example.io', name: null, role: 'user', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' })
    await store.appendSecurityEvent(event({ userId: user.id }))
    await store.delete(user.id)
    await store.appendSecurityEvent(event({ userId: user.id, type: 'admin_user_deleted', actorId: OTHER }))
    t.same((await store.listSecurityEvents(user.id, { limit: 5 })).map((e) => e.type), ['admin_user_deleted', 'login_succeeded'])
  })

  t.test('security events: the purge deletes only events older than the cut-off, at most a batch per call', async t => {
    const { clock, store } = await setup(t)
    for (let i = 0; i < 5; i++) await store.appendSecurityEvent(event())
    clock.advance(10 * DAY)
    const recent = await store.appendSecurityEvent(event({ type: 'password_changed' }))
    const cutoff = new Date(clock.now() - DAY)
    t.equal(await store.purgeSecurityEvents(cutoff, 3), 3, 'a full batch')
    t.equal(await store.purgeSecurityEvents(cutoff, 3), 2, 'the rest')
    t.equal(await store.purgeSecurityEvents(cutoff, 3), 0, 'nothing left that old')
    t.same((await store.listSecurityEvents(USER, { limit: 10 })).map((e) => e.id), [recent.id])
  })

  t.test('security events: a field over its column limit is refused by the store, not truncated', async t => {
    const { store } = await setup(t)
    await t.rejects(store.appendSecurityEvent(event({ deviceName: 'x'.repeat(101) })))
    await t.rejects(store.appendSecurityEvent(event({ detail: 'x'.repeat(101) })))
    t.same(await store.listSecurityEvents(USER, { limit: 5 }), [])
  })
}
