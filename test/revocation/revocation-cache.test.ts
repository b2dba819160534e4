// RevocationCache alone: TTL on the injected clock, one read per miss (single flight), the size bound, failing open, merging news.
import t from 'tap'
import { ManualClock } from '../../src/clock'
import { RevocationCache, type RevocationCacheOptions } from '../../src/revocation/revocation-cache'
import type { RevocationState } from '../../src/store/user-store'

const START = Date.UTC(2026, 0, 1)
const TTL = 5000

interface Fake {
  cache: RevocationCache
  clock: ManualClock
  /** The "store": what each user's version is and which sids are revoked. */
  versions: Map<string, number>
  revoked: Set<string>
  reads: Array<[string, string]>
  /** 'ok', 'fail' (rejects), 'throw' (throws synchronously), or 'hang' (never answers until released). */
  mode: 'ok' | 'fail' | 'throw' | 'hang'
  release: () => void
  outages: unknown[]
  recoveries: number
}

function fake (overrides: Partial<RevocationCacheOptions> = {}): Fake {
  const clock = new ManualClock(START)
  let hung: Array<() => void> = []
  const f: Fake = {
    clock,
    versions: new Map(),
    revoked: new Set(),
    reads: [],
    mode: 'ok',
    release: () => { const waiting = hung; hung = []; for (const go of waiting) go() },
    outages: [],
    recoveries: 0,
    cache: undefined as unknown as RevocationCache
  }
  const answer = (userId: string, sid: string): RevocationState =>
    ({ tokenVersion: f.versions.get(userId) ?? null, sessionEnded: f.revoked.has(sid) })
  f.cache = new RevocationCache({
    load: (userId, sid) => {
      f.reads.push([userId, sid])
      if (f.mode === 'throw') throw new Error('store exploded')
      if (f.mode === 'fail') return Promise.reject(new Error('store down'))
      if (f.mode === 'hang') return new Promise((resolve) => { hung.push(() => resolve(answer(userId, sid))) })
      return Promise.resolve(answer(userId, sid))
    },
    clock,
    maxEntries: 100,
    ttlMs: TTL,
    lookupTimeoutMs: 50,
    outageBackoffMs: 1000,
    onOutage: (err) => f.outages.push(err),
    onRecovery: () => { f.recoveries++ },
    ...overrides
  })
  return f
}

const check = async (f: Fake, user: string, sid: string, ver: number): Promise<boolean> => await f.cache.isRevoked(user, sid, ver)

t.test('a miss reads once; a hit is synchronous and reads nothing until the TTL runs out', async (t) => {
  const f = fake()
  f.versions.set('u1', 2)
  const first = f.cache.isRevoked('u1', 's1', 2)
  t.type(first, Promise, 'a miss answers with a promise')
  t.equal(await first, false)
  t.equal(f.cache.isRevoked('u1', 's1', 2), false, 'a hit answers synchronously')
  t.equal(f.cache.isRevoked('u1', 's1', 1), true, 'an older version is revoked, from the same entry')
  t.equal(f.cache.isRevoked('u1', 's1', 3), false, 'a newer one (minted after the entry was read) is fine')
  t.equal(f.reads.length, 1)

  f.versions.set('u1', 3)
  f.clock.advance(TTL - 1)
  t.equal(f.cache.isRevoked('u1', 's1', 2), false, 'still trusted 1 ms before the TTL')
  f.clock.advance(1)
  t.equal(await check(f, 'u1', 's1', 2), true, 'at the TTL it is read again, and the bump is seen')
  t.equal(f.reads.length, 2)
  t.match(f.cache.stats(), { hits: 4, misses: 2, reads: 2, failures: 0, users: 1, sessions: 1 })
})

t.test('revoked sessions and gone users', async (t) => {
  const f = fake()
  f.versions.set('u1', 0)
  f.revoked.add('gone-sid')
  t.equal(await check(f, 'u1', 'gone-sid', 0), true, 'a revoked sid')
  t.equal(await check(f, 'u1', 'live-sid', 0), false, 'another sid of the same user')
  t.equal(await check(f, 'nobody', 'x', 0), true, 'a user the store does not know (deleted) is revoked at every version')
  t.equal(await check(f, 'nobody', 'x', Number.MAX_SAFE_INTEGER), true)
})

t.test('single flight: concurrent misses for one pair make one read', async (t) => {
  const f = fake()
  f.versions.set('u1', 0)
  f.mode = 'hang'
  const checks = Array.from({ length: 50 }, () => f.cache.isRevoked('u1', 's1', 0))
  const other = f.cache.isRevoked('u1', 's2', 0)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(f.reads.length, 2, 'one read for (u1, s1), one for (u1, s2)')
  f.release()
  t.strictSame(await Promise.all(checks), checks.map(() => false))
  t.equal(await other, false)
  t.equal(f.cache.isRevoked('u1', 's1', 0), false, 'cached afterwards')
  t.equal(f.reads.length, 2)
})

t.test('bounded: beyond maxEntries the oldest entries are forgotten and read again', async (t) => {
  const f = fake({ maxEntries: 3 })
  for (let i = 0; i < 5; i++) {
    f.versions.set(`u${i}`, 0)
    await check(f, `u${i}`, `s${i}`, 0)
  }
  t.match(f.cache.stats(), { users: 3, sessions: 3 })
  const reads = f.reads.length
  t.equal(f.cache.isRevoked('u4', 's4', 0), false, 'the newest are kept')
  t.type(f.cache.isRevoked('u0', 's0', 0), Promise, 'the oldest was forgotten')
  t.equal(f.reads.length, reads + 1)
  t.match(f.cache.stats(), { users: 3, sessions: 3 }, 'still three of each')
})

t.test('store down: fail open without an entry, stale entries otherwise; one outage report; a breaker spares the store', async (t) => {
  for (const mode of ['fail', 'throw', 'hang'] as const) {
    await t.test(mode, async (t) => {
      const f = fake()
      f.versions.set('u1', 1)
      f.revoked.add('revoked-sid')
      await check(f, 'u1', 'live-sid', 1)
      await check(f, 'u1', 'revoked-sid', 1)
      f.clock.advance(TTL)
      f.mode = mode
      const reads = f.reads.length

      t.equal(await check(f, 'u1', 'live-sid', 0), true, 'a stale version still refuses older tokens (versions only grow)')
      t.equal(await check(f, 'u1', 'revoked-sid', 1), true, 'a stale revoked flag still refuses (it never goes back)')
      t.equal(await check(f, 'u1', 'live-sid', 1), false, 'a stale "not revoked" is served')
      t.equal(await check(f, 'stranger', 'unknown-sid', 0), false, 'nothing known: accepted, as stateless mode would')
      t.equal(f.reads.length, reads + 1, 'after the first failure the breaker answers at once, without reading')
      t.equal(f.outages.length, 1, 'one report per outage')
      t.equal(f.cache.stats().failures, 1)

      f.versions.set('u1', 5)
      f.mode = 'ok'
      f.release() // 'hang': the read that timed out answers now, late
      f.clock.advance(999)
      t.equal(await check(f, 'stranger', 'other-sid', 0), false)
      t.equal(f.reads.length, reads + 1, 'still within the backoff')
      f.clock.advance(1)
      t.equal(await check(f, 'u1', 'new-sid', 1), true, 'after the backoff the store is read again: the version moved to 5')
      t.equal(f.reads.length, reads + 2)
      t.equal(f.recoveries, 1, 'and the recovery is reported')
    })
  }
})

t.test('a slow read fails open for those waiting, then fills the cache when its answer comes', async (t) => {
  const f = fake()
  f.versions.set('u1', 3)
  f.mode = 'hang'
  // The store never answers until released: an answer at all is the lookup timeout's doing.
  t.equal(await check(f, 'u1', 's1', 0), false, 'timed out: accepted (nothing known)')
  f.release()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(f.cache.isRevoked('u1', 's1', 0), true, 'the late answer was kept')
})

t.test('news: noteUser and noteSession take effect at once and are trusted for a TTL', async (t) => {
  const f = fake()
  f.versions.set('u1', 0)
  await check(f, 'u1', 's1', 0)
  f.cache.noteUser('u1', 1)
  t.equal(f.cache.isRevoked('u1', 's1', 0), true)
  t.equal(f.cache.isRevoked('u1', 's1', 1), false)
  f.cache.noteUser('u1', 0)
  t.equal(f.cache.isRevoked('u1', 's1', 0), true, 'an older version heard late does not lower it (max)')
  f.cache.noteSession('s1')
  t.equal(f.cache.isRevoked('u1', 's1', 1), true)
  f.cache.noteUser('u2', null)
  f.cache.noteSession('s2')
  t.equal(f.cache.isRevoked('u2', 's2', 99), true, 'a deleted user, learnt without a read')
  t.equal(f.reads.length, 1)
})

t.test('news heard while a read is in flight is not overwritten by the older answer', async (t) => {
  const f = fake()
  f.versions.set('u1', 0)
  f.mode = 'hang'
  const pending = check(f, 'u1', 's1', 0)
  await new Promise((resolve) => setImmediate(resolve))
  // The store answered "version 0" just before another instance bumped it and said so.
  f.cache.noteUser('u1', 1)
  f.cache.noteSession('s1')
  f.release()
  t.equal(await pending, true)
  t.equal(f.cache.isRevoked('u1', 's1', 1), true, 'revoked flag kept')
  f.mode = 'ok'
  t.equal(await check(f, 'u1', 's9', 0), true, 'version 1 kept, even by a read (for s9) made at the same instant')

  // But an entry older than the read is replaced: bogus news (say, a forged Redis message) lasts one TTL at most.
  f.mode = 'ok'
  f.cache.noteUser('u3', 1_000_000)
  f.versions.set('u3', 2)
  t.equal(await check(f, 'u3', 's3', 2), true, 'refused while the bogus entry is fresh')
  f.clock.advance(TTL)
  t.equal(await check(f, 'u3', 's3', 2), false, 'the next read replaces it')
})
