// MemoryReplayCache alone: a proof id is taken once while fresh, again once its time has passed, and the bound
// (DPOP_REPLAY_CACHE) holds: past it the least recently seen ids are forgotten first.
import t from 'tap'
import { MemoryReplayCache } from '../../src/tokens/dpop-replay'

const NOW = 1_800_000_000

t.test('an id is taken once until it expires, then again', async (t) => {
  const cache = new MemoryReplayCache(1000)
  t.equal(cache.firstUse('jkt:a', NOW + 60, NOW), true)
  t.equal(cache.firstUse('jkt:a', NOW + 60, NOW + 30), false, 'a replay within its lifetime is refused')
  t.equal(cache.firstUse('jkt:b', NOW + 60, NOW), true, 'another id is not a replay')
  t.equal(cache.firstUse('jkt:a', NOW + 200, NOW + 61), true, 'past its expiry the id is new again')
})

t.test('bounded: the cache never holds more than maxEntries, and forgets the least recently seen first', async (t) => {
  const cache = new MemoryReplayCache(1000)
  let taken = 0
  for (let i = 0; i < 1500; i++) if (cache.firstUse(`jkt:${i}`, NOW + 60, NOW)) taken++
  t.equal(taken, 1500)
  t.equal(cache.size, 1000)
  t.equal(cache.firstUse('jkt:1499', NOW + 60, NOW), false, 'the newest ids are still refused')
  t.equal(cache.firstUse('jkt:500', NOW + 60, NOW), false, 'the oldest id still held is refused')
  t.equal(cache.firstUse('jkt:499', NOW + 60, NOW), true, 'the ids past the bound are forgotten')
  t.equal(cache.size, 1000)
})
