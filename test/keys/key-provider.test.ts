// Two instances (two apps, two DirectoryKeyProviders) sharing one key directory: a rotation or a
// retirement made by the keys CLI reaches both, by reload() and by the periodic re-read, and a token
// signed by one instance verifies on the other.
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock'
import { register, START } from '../support/app'
import { assertInvalidToken, buildWithDir, dirKeys, jwksKids, keysCli, tokenHeader, whoami, type DirApp } from '../support/keys'

/** Two instances on one fresh key directory; the first one generates the key, the second finds it. */
async function twoInstances (t: Test, env: Record<string, string> = {}): Promise<[DirApp, DirApp]> {
  const a = await buildWithDir(t, { env, clock: new ManualClock(START) })
  const b = await buildWithDir(t, { env, dir: a.dir, clock: new ManualClock(START) })
  return [a, b]
}

/** Poll (real time, bounded) until `check` holds; returns whether it did. */
async function eventually (check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

t.test('a rotation by the CLI reaches both instances on reload(); tokens cross instances', async (t) => {
  const [a, b] = await twoInstances(t)
  t.equal(dirKeys(a.dir).length, 1, 'one key for both instances')
  const [{ kid: A }] = dirKeys(a.dir)
  t.match(a.log.lines, [{ msg: /generated/ }], 'the first instance generated it')
  t.notMatch(b.log.lines, [{ msg: /generated/ }], 'the second one did not')
  t.same(await jwksKids(a.app), [A])
  t.same(await jwksKids(b.app), [A])

  const before = await register(a.app)
  t.equal((await whoami(b.app, before.accessToken)).statusCode, 200, 'B verifies a token of A before the rotation')

  // The CLI runs on its own clock, like a separate process.
  const cliClock = new ManualClock(START + 60_000)
  const rotate = await keysCli(['rotate', '--alg', 'RS256'], a.config, cliClock)
  t.equal(rotate.code, 0, rotate.err)
  const N = dirKeys(a.dir).find((k) => k.kid !== A)
  if (N === undefined) throw new Error('rotate added no key')

  t.same(await jwksKids(b.app), [A], 'B has not re-read the directory yet')
  a.keys.reload()
  b.keys.reload()
  t.same(await jwksKids(a.app), [A, N.kid].sort(), 'A publishes the new key')
  t.same(await jwksKids(b.app), [A, N.kid].sort(), 'B publishes the new key')
  t.same(await jwksKids(a.app), await jwksKids(b.app))

  // After the publication delay, both instances sign with the new key and verify each other's tokens.
  a.clock.set(N.signsFrom)
  b.clock.set(N.signsFrom)
  const fromA = await register(a.app, 'carol@example.com')
  t.same(tokenHeader(fromA.accessToken), { alg: 'RS256', typ: 'at+jwt', kid: N.kid }, 'A signs with the new key')
  const whoB = await whoami(b.app, fromA.accessToken)
  t.equal(whoB.statusCode, 200, `B accepts the token A signed after the rotation: ${whoB.body}`)
  t.equal(whoB.json<{ sub: string }>().sub, fromA.user.id)
  const fromB = await register(b.app, 'dave@example.com')
  t.equal(tokenHeader(fromB.accessToken).kid, N.kid, 'B signs with the new key')
  t.equal((await whoami(a.app, fromB.accessToken)).statusCode, 200, 'A accepts the token B signed')
  t.equal((await whoami(b.app, before.accessToken)).statusCode, 200, 'the pre-rotation token still verifies on B')

  // A retirement reaches both on reload as well.
  const retire = await keysCli(['retire', A], a.config, new ManualClock(N.signsFrom))
  t.equal(retire.code, 0, retire.err)
  a.keys.reload()
  b.keys.reload()
  t.same(await jwksKids(a.app), [N.kid])
  t.same(await jwksKids(b.app), [N.kid])
  assertInvalidToken(t, await whoami(a.app, before.accessToken), 'A refuses a token of the retired key')
  assertInvalidToken(t, await whoami(b.app, before.accessToken), 'B refuses a token of the retired key')
  t.equal((await whoami(b.app, fromA.accessToken)).statusCode, 200, 'tokens of the new key go on')
})

t.test('the periodic re-read (JWT_KEYS_RELOAD=1s) picks up a rotation and a retirement without reload()', async (t) => {
  const [a, b] = await twoInstances(t, { JWT_KEYS_RELOAD: '1s' })
  t.equal(a.config.jwt.keysReload, 1)
  const [{ kid: A }] = dirKeys(a.dir)
  const alice = await register(a.app)

  const rotate = await keysCli(['rotate'], a.config, new ManualClock(START))
  t.equal(rotate.code, 0, rotate.err)
  const N = dirKeys(a.dir).find((k) => k.kid !== A)
  if (N === undefined) throw new Error('rotate added no key')
  const both = [A, N.kid].sort()
  const published = await eventually(async () =>
    JSON.stringify(await jwksKids(a.app)) === JSON.stringify(both) && JSON.stringify(await jwksKids(b.app)) === JSON.stringify(both), 3000)
  t.ok(published, 'within 3 s both instances publish the rotated key')
  t.same(await jwksKids(b.app), both)

  a.clock.set(N.signsFrom)
  b.clock.set(N.signsFrom)
  const fromA = await register(a.app, 'carol@example.com')
  t.equal(tokenHeader(fromA.accessToken).kid, N.kid)
  t.equal((await whoami(b.app, fromA.accessToken)).statusCode, 200, 'B accepts a token A signed with the new key')

  // A retirement only rewrites a metadata file: the re-read must notice that too.
  t.equal((await keysCli(['retire', A], a.config, new ManualClock(N.signsFrom))).code, 0)
  const gone = await eventually(async () =>
    JSON.stringify(await jwksKids(a.app)) === JSON.stringify([N.kid]) && JSON.stringify(await jwksKids(b.app)) === JSON.stringify([N.kid]), 3000)
  t.ok(gone, 'within 3 s the retired key left both JWKS')
  assertInvalidToken(t, await whoami(b.app, alice.accessToken), 'B refuses the retired key after the periodic re-read')
})
