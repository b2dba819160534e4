// Tests for the argon2id hasher: hash format, verify, rehash detection, the dummy verify and event-loop freedom.
import t from 'tap'
import type * as hasherModule from '../../src/lib/password-hasher'
import { argon2ParamsOf, OWASP_ARGON2, PasswordHasher } from '../../src/lib/password-hasher'
import { PASSWORD } from '../support/passwords'

// Smallest parameters the config allows, to keep the suite fast; OWASP's are used where the format matters.
const FAST = { memoryCost: 8192, timeCost: 1, parallelism: 1 }

t.test('OWASP_ARGON2 holds the OWASP cheat-sheet parameters', async (t) => {
  t.same(OWASP_ARGON2, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
})

t.test('hash is an argon2id PHC string with the configured parameters', async (t) => {
  const hasher = new PasswordHasher(OWASP_ARGON2)
  const hash = await hasher.hash(PASSWORD)
  t.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
  t.not(await hasher.hash(PASSWORD), hash, 'a fresh salt each time')
  t.equal(await hasher.verify(hash, PASSWORD), true)
})

t.test('verify', async (t) => {
  const hasher = new PasswordHasher(FAST)
  const hash = await hasher.hash(PASSWORD)
  t.match(hash, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/)
  t.equal(await hasher.verify(hash, PASSWORD), true, 'right password')
  t.equal(await hasher.verify(hash, PASSWORD + ' '), false, 'wrong password')
  t.equal(await hasher.verify(hash, ''), false, 'empty password')
})

t.test('verify of a malformed stored hash resolves false and still does the work', async (t) => {
  const hasher = new PasswordHasher(FAST)
  const good = await hasher.hash(PASSWORD)
  const garbage = [
    '',
    'garbage',
    '$2b$10$abcdefghijklmnopqrstuuMcIGkHxM0ZCI7BOXX1iYzyCydx0t9OG', // bcrypt
    '$argon2id$v=19$m=8192,t=1,p=1$',
    '$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$', // no hash part
    '$argon2id$v=19$m=8192,t=1,p=1$!!!!$????',
    '$argon2id$v=19$m=8192,t=1,p=1$YQ$YQ', // shape-valid, salt too short for argon2
    good.slice(0, -10) + '\n'
  ]
  for (const hash of garbage) {
    const before = hasher.verifications
    t.equal(await hasher.verify(hash, PASSWORD), false, JSON.stringify(hash))
    t.equal(hasher.verifications - before, 1, `one argon2 verification for ${JSON.stringify(hash)}`)
  }
})

t.test('needsRehash', async (t) => {
  const fast = new PasswordHasher(FAST)
  const hash = await fast.hash(PASSWORD)
  t.equal(fast.needsRehash(hash), false, 'same parameters')
  t.equal(new PasswordHasher({ ...FAST, memoryCost: 9216 }).needsRehash(hash), true, 'memory differs')
  t.equal(new PasswordHasher({ ...FAST, timeCost: 2 }).needsRehash(hash), true, 'iterations differ')
  t.equal(new PasswordHasher({ ...FAST, parallelism: 2 }).needsRehash(hash), true, 'parallelism differs')
  t.equal(new PasswordHasher(OWASP_ARGON2).needsRehash(hash), true, 'OWASP defaults vs small parameters')
  t.equal(fast.needsRehash(hash.replace('$argon2id$', '$argon2i$')), true, 'another argon2 variant')
  t.equal(fast.needsRehash('garbage'), true, 'unparseable: replace it, do not throw')
})

t.test('verifyDummy resolves false and counts like verify', async (t) => {
  const hasher = new PasswordHasher(FAST)
  const hash = await hasher.hash(PASSWORD)
  t.equal(hasher.verifications, 0, 'hashing is not verifying')

  t.equal(await hasher.verify(hash, PASSWORD), true)
  t.equal(hasher.verifications, 1)
  t.equal(await hasher.verify(hash, 'wrong password here'), false)
  t.equal(hasher.verifications, 2)
  t.equal(await hasher.verifyDummy(PASSWORD), false)
  t.equal(hasher.verifications, 3, 'the dummy path counts as one verification')
  // Concurrent calls each count once.
  t.same(await Promise.all([hasher.verifyDummy('a'), hasher.verifyDummy('b'), hasher.verifyDummy('')]), [false, false, false])
  t.equal(hasher.verifications, 6)
})

t.test('the dummy hash is made once, with the live parameters', async (t) => {
  // Spy on the argon2 package the hasher loads to see which stored hash each verification used.
  const argon2 = await import('argon2')
  const digests: string[] = []
  let hashes = 0
  const { PasswordHasher: Spied } = t.mockRequire<typeof hasherModule>('../../src/lib/password-hasher', {
    argon2: {
      ...argon2,
      hash: (...args: Parameters<typeof argon2.hash>) => { hashes++; return argon2.hash(...args) },
      verify: (digest: string, password: string) => { digests.push(digest); return argon2.verify(digest, password) }
    }
  })
  const hasher = new Spied(FAST)
  t.same(await Promise.all([hasher.verifyDummy('a'), hasher.verifyDummy('b')]), [false, false])
  t.equal(await hasher.verifyDummy('c'), false)
  t.equal(hashes, 1, 'one dummy hash for the life of the hasher')
  t.equal(digests.length, 3)
  t.equal(new Set(digests).size, 1, 'every dummy verification used the same hash')
  t.match(digests[0], /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/)

  // A stored hash argon2 refuses falls back to the dummy, so a corrupt row costs as much as a wrong password.
  t.equal(await hasher.verify('$argon2id$v=19$m=8192,t=1,p=1$YQ$YQ', 'd'), false)
  t.same(digests.slice(3), ['$argon2id$v=19$m=8192,t=1,p=1$YQ$YQ', digests[0]], 'the refused hash, then the dummy')
  t.equal(hashes, 1)
})

t.test('hashes written by the argon2 package itself (m,p,t order) still verify', async (t) => {
  const argon2 = await import('argon2')
  const hasher = new PasswordHasher(FAST)
  const legacy = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...FAST })
  t.match(legacy, /m=8192,p=1,t=1/, 'the package orders parameters m,p,t')
  t.equal(await hasher.verify(legacy, PASSWORD), true)
  t.equal(await hasher.verify(legacy, 'not it at all'), false)
  t.equal(hasher.needsRehash(legacy), false, 'same parameters in another order need no rehash')
})

t.test('hashing runs off the event loop', async (t) => {
  const hasher = new PasswordHasher(OWASP_ARGON2)
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 5)
  t.teardown(() => clearInterval(timer))
  let ticksWhenDone = -1
  await Promise.all([1, 2, 3, 4].map((i) => hasher.hash(`${PASSWORD} ${i}`))).then(() => { ticksWhenDone = ticks })
  clearInterval(timer)
  // Were argon2 run on the main thread, no timer callback could fire until every hash had finished.
  t.ok(ticksWhenDone >= 2, `the interval kept firing while 4 hashes ran (${ticksWhenDone} ticks)`)
})

t.test('argon2ParamsOf reads m, t and p in any order, within the configurable bounds only', async (t) => {
  t.same(argon2ParamsOf('$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'), OWASP_ARGON2)
  t.same(argon2ParamsOf('m=65536,p=4,t=3'), { memoryCost: 65536, timeCost: 3, parallelism: 4 }, 'the argon2 package order')
  for (const phc of ['garbage', '$argon2id$v=19$m=19456,t=2$c2FsdA$aGFzaA', 'm=1024,t=2,p=1', 'm=19456,t=1000,p=1', 'm=19456,t=2,p=1e1', 'm=19456,t=-2,p=1']) {
    t.equal(argon2ParamsOf(phc), null, phc)
  }
})

t.test('learnParameters: every set stored hashes carry, once, the live one first', async (t) => {
  const hasher = new PasswordHasher(FAST)
  hasher.learnParameters(['m=19456,t=2,p=1', '$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA', 'm=19456,p=1,t=2', 'm=1,t=1,p=1', 'junk'])
  t.same(hasher.knownParameters, [FAST, OWASP_ARGON2])
})
