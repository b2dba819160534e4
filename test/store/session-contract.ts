// The sessions half of the store contract (SessionStore), run by contract.ts against every store, plus the
// check both stores' test files make after migrating a database that still had revoked_sessions (migration 004).
import type { Test } from 'tap'
import type { ManualClock } from '../../src/clock'
import { newSessionId, SESSION_ID_PATTERN } from '../../src/lib/ids'
import type { NewSession, SessionRecord } from '../../src/store/session-store'
import type { UserStore } from '../../src/store/user-store'

const START = Date.UTC(2026, 0, 1, 12, 0, 0, 123)
const DAY = 24 * 3600 * 1000
const NO_USER = '0190a000-0000-7000-8000-000000000000'
export const SID_A = 'AAAAAAAAAAAAAAAA'
const SID_B = 'BBBBBBBBBBBBBBBB'

/** A login at START lasting 30 days, from a phone. */
export const newSession = (userId: string, overrides: Partial<NewSession> = {}): NewSession => ({
  id: SID_A,
  userId,
  authTime: Math.floor(START / 1000),
  expiresAt: new Date(START + 30 * DAY),
  deviceName: 'Pixel 9 — Firefox 140',
  ip: '203.0.113.7',
  ...overrides
})

type Setup = (t: Test) => Promise<{ clock: ManualClock, store: UserStore }>

let users = 0
const addUser = (store: UserStore) => store.create({
  email: `session-user-${users++}@example.io`, name: null, role: 'user', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'
})

const ids = (sessions: SessionRecord[]): string[] => sessions.map(s => s.id)

export function sessionContract (t: Test, setup: Setup): void {
  t.test('sessions: createSession returns the full record; findSession reads it back', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    clock.advance(5000)
    const session = await store.createSession(newSession(user.id), { maxPerUser: 5 })
    const expected: SessionRecord = {
      id: SID_A,
      userId: user.id,
      createdAt: new Date(START + 5000),
      lastUsedAt: new Date(START + 5000),
      authTime: Math.floor(START / 1000),
      expiresAt: new Date(START + 30 * DAY),
      counter: 0,
      supersededAt: null,
      endedAt: null,
      endReason: null,
      deviceName: 'Pixel 9 — Firefox 140',
      createdIp: '203.0.113.7',
      lastIp: '203.0.113.7'
    }
    t.strictSame(session, expected)
    t.strictSame(await store.findSession(SID_A), expected)
    t.equal(await store.findSession(SID_B), null)

    // The limits of the columns: a 100-character name (not ASCII), an IPv6 address, no name or address at all.
    const longName = 'é'.repeat(100)
    const other = await store.createSession(newSession(user.id, { id: SID_B, deviceName: longName, ip: '2001:db8:85a3::8a2e:370:7334' }), { maxPerUser: 5 })
    t.equal(other.deviceName, longName)
    t.equal((await store.findSession(SID_B))?.createdIp, '2001:db8:85a3::8a2e:370:7334')
    const bare = await store.createSession(newSession(user.id, { id: newSessionId(), deviceName: null, ip: null }), { maxPerUser: 5 })
    t.match(bare, { deviceName: null, createdIp: null, lastIp: null })
    t.match(bare.id, SESSION_ID_PATTERN, 'newSessionId has the shape of a sid')
  })

  t.test('sessions: past maxPerUser the least recently used active sessions end as evicted, in the same write', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const other = await addUser(store)
    const [s1, s2, s3, s4, s5] = Array.from({ length: 5 }, () => newSessionId())
    await store.createSession(newSession(other.id, { id: 'other-user-00000' }), { maxPerUser: 1 })
    // An expired session neither counts nor is evicted: it is over already.
    await store.createSession(newSession(user.id, { id: 'expired-00000000', expiresAt: new Date(START + 1000) }), { maxPerUser: 3 })
    for (const id of [s1, s2, s3]) {
      clock.advance(2000)
      await store.createSession(newSession(user.id, { id }), { maxPerUser: 3 })
    }
    t.strictSame(ids(await store.listActiveSessions(user.id)), [s3, s2, s1], 'three fit')
    clock.advance(1000)
    await store.rotateSession(s1, 0, { ip: null })
    clock.advance(1000)
    await store.createSession(newSession(user.id, { id: s4 }), { maxPerUser: 3 })
    t.strictSame(ids(await store.listActiveSessions(user.id)), [s4, s1, s3], 's2, least recently used since s1 refreshed, went')
    t.match(await store.findSession(s2), { endedAt: new Date(clock.now()), endReason: 'evicted' })
    t.match(await store.findSession('expired-00000000'), { endedAt: null })

    // The new session is kept even when everything else goes, and even when others were used in the same millisecond.
    await store.rotateSession(s4, 0, { ip: null })
    await store.createSession(newSession(user.id, { id: s5 }), { maxPerUser: 1 })
    t.strictSame(ids(await store.listActiveSessions(user.id)), [s5])
    t.strictSame(ids(await store.listActiveSessions(other.id)), ['other-user-00000'], 'another user\'s sessions are untouched')
    await t.rejects(store.createSession(newSession(user.id, { id: newSessionId() }), { maxPerUser: 0 }), RangeError)
  })

  t.test('sessions: concurrent logins of one user never leave more than maxPerUser active', async t => {
    const { store } = await setup(t)
    const user = await addUser(store)
    await Promise.all(Array.from({ length: 8 }, () => store.createSession(newSession(user.id, { id: newSessionId() }), { maxPerUser: 3 })))
    t.equal((await store.listActiveSessions(user.id)).length, 3)
  })

  t.test('sessions: rotateSession advances the counter only from the expected value of a live session', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const created = await store.createSession(newSession(user.id), { maxPerUser: 5 })
    clock.advance(60_000)
    const first = await store.rotateSession(SID_A, 0, { ip: '198.51.100.4' })
    const rotated: SessionRecord = {
      ...created, counter: 1, supersededAt: new Date(START + 60_000), lastUsedAt: new Date(START + 60_000), lastIp: '198.51.100.4'
    }
    t.strictSame(first, { outcome: 'rotated', session: rotated }, 'created_ip stays, last_ip follows')
    clock.advance(1000)
    t.strictSame(await store.rotateSession(SID_A, 0, { ip: '192.0.2.1' }), { outcome: 'stale', session: rotated },
      'the old counter again: stale, with the current counter and when it moved, and nothing written')

    const at = new Date(START + 120_000)
    t.match(await store.rotateSession(SID_A, 1, { ip: null, now: at }), { outcome: 'rotated', session: { counter: 2, supersededAt: at, lastUsedAt: at, lastIp: null } },
      'an explicit time wins over the clock')

    t.strictSame(await store.rotateSession(SID_B, 0, { ip: null }), { outcome: 'missing' })
    clock.set(START + 30 * DAY)
    t.match(await store.rotateSession(SID_A, 2, { ip: null }), { outcome: 'expired', session: { counter: 2 } }, 'expired at expires_at')
    clock.set(START + 30 * DAY - 1)
    await store.endSession(SID_A, 'logout')
    t.match(await store.rotateSession(SID_A, 2, { ip: null }), { outcome: 'ended', session: { counter: 2, endReason: 'logout' } })
    t.match(await store.rotateSession(SID_A, 0, { ip: null }), { outcome: 'ended' }, 'ended wins over stale')
  })

  t.test('sessions: of 10 concurrent rotations with one counter, exactly one rotates', async t => {
    const { store } = await setup(t)
    const user = await addUser(store)
    await store.createSession(newSession(user.id), { maxPerUser: 5 })
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.rotateSession(SID_A, 0, { ip: `192.0.2.${i}` })))
    const outcomes = results.map(r => r.outcome)
    t.equal(outcomes.filter(o => o === 'rotated').length, 1, outcomes.join(','))
    t.equal(outcomes.filter(o => o === 'stale').length, 9)
    const winner = results.find(r => r.outcome === 'rotated')
    const stored = await store.findSession(SID_A)
    t.equal(stored?.counter, 1, 'advanced once')
    t.equal(stored?.lastIp, winner !== undefined && 'session' in winner ? winner.session.lastIp : undefined, 'the winner\'s address')
  })

  t.test('sessions: listActiveSessions leaves out ended, expired and other users\' sessions; most recently used first', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const other = await addUser(store)
    const [early, late, ended, expiring] = Array.from({ length: 4 }, () => newSessionId())
    await store.createSession(newSession(user.id, { id: early }), { maxPerUser: 10 })
    await store.createSession(newSession(user.id, { id: expiring, expiresAt: new Date(START + 5000) }), { maxPerUser: 10 })
    clock.advance(1000)
    await store.createSession(newSession(user.id, { id: late }), { maxPerUser: 10 })
    await store.createSession(newSession(user.id, { id: ended }), { maxPerUser: 10 })
    await store.createSession(newSession(other.id, { id: newSessionId() }), { maxPerUser: 10 })
    await store.endSession(ended, 'logout')
    clock.advance(1000)
    await store.rotateSession(early, 0, { ip: null })
    t.strictSame(ids(await store.listActiveSessions(user.id)), [early, late, expiring])
    t.strictSame(ids(await store.listActiveSessions(user.id, new Date(START + 5000))), [early, late], 'at an explicit time')
    clock.advance(3000)
    t.strictSame(ids(await store.listActiveSessions(user.id)), [early, late], 'expired at expires_at')
    t.strictSame(await store.listActiveSessions(NO_USER), [])
  })

  t.test('sessions: endSession ends a live session once, and only the given user\'s', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const other = await addUser(store)
    await store.createSession(newSession(user.id), { maxPerUser: 5 })
    clock.advance(1000)
    t.equal(await store.endSession(SID_A, 'logout', { userId: other.id }), false, 'another user\'s')
    t.match(await store.findSession(SID_A), { endedAt: null, endReason: null })
    t.equal(await store.endSession(SID_A, 'logout', { userId: user.id }), true)
    t.match(await store.findSession(SID_A), { endedAt: new Date(START + 1000), endReason: 'logout' })
    clock.advance(1000)
    t.equal(await store.endSession(SID_A, 'admin'), false, 'already ended')
    t.match(await store.findSession(SID_A), { endedAt: new Date(START + 1000), endReason: 'logout' }, 'the first end stays')
    t.equal(await store.endSession(SID_B, 'logout'), false, 'unknown')
  })

  t.test('sessions: endUserSessions ends every session of the user not ended yet, but the one excepted', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const other = await addUser(store)
    const [current, second, expired, gone, others] = Array.from({ length: 5 }, () => newSessionId())
    for (const id of [current, second, gone]) await store.createSession(newSession(user.id, { id }), { maxPerUser: 10 })
    await store.createSession(newSession(user.id, { id: expired, expiresAt: new Date(START + 1000) }), { maxPerUser: 10 })
    await store.createSession(newSession(other.id, { id: others }), { maxPerUser: 10 })
    await store.endSession(gone, 'logout')
    clock.advance(2000)
    t.equal(await store.endUserSessions(user.id, 'logout_others', { except: current }), 2, 'second, and expired (its last access token may still be valid)')
    t.match(await store.findSession(second), { endedAt: new Date(START + 2000), endReason: 'logout_others' })
    t.match(await store.findSession(expired), { endReason: 'logout_others' })
    t.match(await store.findSession(gone), { endReason: 'logout' }, 'an ended session keeps its reason')
    t.match(await store.findSession(current), { endedAt: null })
    t.match(await store.findSession(others), { endedAt: null }, 'another user\'s')
    t.equal(await store.endUserSessions(user.id, 'password_changed'), 1)
    t.match(await store.findSession(current), { endReason: 'password_changed' })
    t.equal(await store.endUserSessions(user.id, 'logout_all'), 0)
    t.equal(await store.endUserSessions(NO_USER, 'logout_all'), 0)
  })

  t.test('sessions: revocationState reads the token version and whether the session ended; a sid without a row has not', async t => {
    const { store } = await setup(t)
    const user = await addUser(store)
    t.strictSame(await store.revocationState(user.id, SID_A), { tokenVersion: 0, sessionEnded: false }, 'no row: a token from before sessions were recorded')
    await store.createSession(newSession(user.id), { maxPerUser: 5 })
    await store.update(user.id, { bumpTokenVersion: true })
    t.strictSame(await store.revocationState(user.id, SID_A), { tokenVersion: 1, sessionEnded: false })
    await store.endSession(SID_A, 'logout')
    t.strictSame(await store.revocationState(user.id, SID_A), { tokenVersion: 1, sessionEnded: true })
    t.strictSame(await store.revocationState(user.id, SID_B), { tokenVersion: 1, sessionEnded: false }, 'another sid of the user')
    t.strictSame(await store.revocationState(NO_USER, SID_A), { tokenVersion: null, sessionEnded: true }, 'an unknown user; the sid is looked up on its own')
  })

  t.test('sessions: recordEndedSession writes an ended row for a sid without one, and nothing else', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const expiresAt = new Date(START + DAY)
    clock.advance(1000)
    t.equal(await store.recordEndedSession({ id: SID_A, userId: user.id, expiresAt, reason: 'logout' }), true)
    t.match(await store.findSession(SID_A), { userId: user.id, expiresAt, endedAt: new Date(START + 1000), endReason: 'logout', counter: 0 })
    t.equal((await store.revocationState(user.id, SID_A)).sessionEnded, true)
    t.equal(await store.recordEndedSession({ id: SID_A, userId: user.id, expiresAt: new Date(START + 2 * DAY), reason: 'admin' }), false, 'a row exists')
    t.match(await store.findSession(SID_A), { expiresAt, endReason: 'logout' })
    // Logout racing the account's deletion must not fail; the missing user refuses the tokens anyway.
    t.equal(await store.recordEndedSession({ id: SID_B, userId: NO_USER, expiresAt, reason: 'logout' }), false)
    t.equal(await store.findSession(SID_B), null)
    const racing = await Promise.all(Array.from({ length: 10 }, () =>
      store.recordEndedSession({ id: 'racing-sid-00000', userId: user.id, expiresAt, reason: 'logout' })))
    t.equal(racing.filter(Boolean).length, 1, 'concurrent records of one sid: one row, no error')
  })

  t.test('sessions: deleting the user deletes their sessions', async t => {
    const { store } = await setup(t)
    const user = await addUser(store)
    const other = await addUser(store)
    await store.createSession(newSession(user.id), { maxPerUser: 5 })
    await store.recordEndedSession({ id: 'ended-sid-000000', userId: user.id, expiresAt: new Date(START + DAY), reason: 'logout' })
    await store.createSession(newSession(other.id, { id: SID_B }), { maxPerUser: 5 })
    t.equal(await store.delete(user.id), true)
    t.equal(await store.findSession(SID_A), null)
    t.equal(await store.findSession('ended-sid-000000'), null)
    t.match(await store.findSession(SID_B), { userId: other.id })
  })

  t.test('sessions: purgeSessions deletes, in bounded batches, sessions that ended or expired strictly before the cut-off', async t => {
    const { clock, store } = await setup(t)
    const user = await addUser(store)
    const live = newSessionId()
    await store.createSession(newSession(user.id, { id: live }), { maxPerUser: 100 })
    // Ended at +1 s to +5 s, one each.
    const ended = Array.from({ length: 5 }, () => newSessionId())
    for (const id of ended) {
      await store.createSession(newSession(user.id, { id }), { maxPerUser: 100 })
      clock.advance(1000)
      await store.endSession(id, 'logout')
    }
    // Expiring at +3 s without being ended.
    const expiring = newSessionId()
    await store.createSession(newSession(user.id, { id: expiring, expiresAt: new Date(START + 3000) }), { maxPerUser: 100 })

    t.equal(await store.purgeSessions(new Date(START + 1000), 10), 0, 'an end exactly at the cut-off stays')
    t.equal(await store.purgeSessions(new Date(START + 3001), 2), 2, 'bounded by the batch size')
    t.equal(await store.purgeSessions(new Date(START + 3001), 2), 2, 'the rest of what is due (+3 s ended and +3 s expired)')
    t.equal(await store.purgeSessions(new Date(START + 3001), 2), 0)
    const remaining = await Promise.all([...ended, expiring].map(id => store.findSession(id)))
    t.strictSame(remaining.flatMap(r => r === null ? [] : [r.id]), ended.slice(3), 'ended at +4 s and +5 s remain')
    t.equal(await store.purgeSessions(new Date(START + 100 * DAY), 100), 3, 'later, the others and the live one, expired long ago')
    t.equal(await store.findSession(live), null)
  })
}

/** After migrating a database at 003 whose revoked_sessions held a row for `userId` and one for a deleted user. */
export async function checkRevokedSessionsMigrated (
  t: Test, store: UserStore, rows: { userId: string, sid: string, orphanSid: string, expiresAt: Date }
): Promise<void> {
  const session = await store.findSession(rows.sid)
  t.match(session, { id: rows.sid, userId: rows.userId, expiresAt: rows.expiresAt, counter: 0, endReason: 'logout' })
  t.type(session?.endedAt, Date, 'ended')
  t.strictSame(await store.revocationState(rows.userId, rows.sid), { tokenVersion: 0, sessionEnded: true }, 'still refused in hybrid mode')
  t.equal(await store.findSession(rows.orphanSid), null, 'a deleted user\'s row is not carried over')
  t.strictSame(await store.listActiveSessions(rows.userId), [], 'an ended row is no active session')
}
