// The key lifecycle over HTTP, with the keys CLI run in-process and a ManualClock (no sleeping):
// rotate → published at once, signs after JWKS_MAX_AGE → the old key verifies until its last token
// expired, then leaves the JWKS; algorithm switches keep sessions alive; retire ends a key at once.
import t from 'tap'
import type { JwtAlg } from '../../src/keys/key'
import { register } from '../support/app'
import {
  assertInvalidToken, buildWithDir, dirKeys, filesIn, jwks, jwksKids, keysCli, listedStates, login, refresh, tokenHeader, verifiesWithJwks, whoami
} from '../support/keys'

const S = 1000
const M = 60 * S
/** REFRESH_TOKEN_TTL 1h + CLOCK_TOLERANCE 30s (buildWithDir's defaults). */
const GRACE = (3600 + 30) * S
const KTY: Record<Exclude<JwtAlg, 'HS256'>, string> = { EdDSA: 'OKP', ES256: 'EC', RS256: 'RSA' }

const switches: Array<[Exclude<JwtAlg, 'HS256'>, Exclude<JwtAlg, 'HS256'>]> = [
  ['EdDSA', 'RS256'],
  ['RS256', 'EdDSA'],
  ['EdDSA', 'ES256'],
  ['ES256', 'RS256'],
  ['EdDSA', 'EdDSA']
]

for (const [from, to] of switches) {
  t.test(`lifecycle with rotation ${from} → ${to}`, async (t) => {
    const ctx = await buildWithDir(t, { env: { JWT_ALG: from } })
    const { app, clock, config } = ctx
    const START = clock.now()

    // First start: one key, of the configured algorithm, signing at once.
    const [first] = dirKeys(ctx.dir)
    t.equal(dirKeys(ctx.dir).length, 1, 'the empty directory got one key')
    t.equal(first.alg, from)
    const A = first.kid
    t.same(await jwksKids(app), [A])
    const alice = await register(app)
    t.same(tokenHeader(alice.accessToken), { alg: from, typ: 'at+jwt', kid: A })
    t.same(tokenHeader(alice.refreshToken), { alg: from, typ: 'rt+jwt', kid: A })

    // Rotate one minute later.
    clock.advance(M)
    const rotatedAt = clock.now()
    const rotate = await keysCli(['rotate', '--alg', to], config, clock)
    t.equal(rotate.code, 0, rotate.err)
    const B = dirKeys(ctx.dir).find((k) => k.kid !== A)
    if (B === undefined) throw new Error('rotate added no key')
    t.equal(B.alg, to)
    t.equal(B.signsFrom, rotatedAt + (config.jwt.jwksMaxAge + config.jwt.keysReload) * 1000, 'signs JWT_KEYS_RELOAD + JWKS_MAX_AGE after the rotation')
    t.match(rotate.out, new RegExp(`added ${B.kid} \\(${to}\\)`))
    t.same(listedStates(rotate.out.slice(rotate.out.indexOf('KID'))), { [A]: 'signing', [B.kid]: 'pending' }, 'rotate prints the table')
    t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'signing', [B.kid]: 'pending' })

    // Published at once (after the instance re-reads the directory), with its public parameters only.
    const etagBefore = (await app.inject({ url: '/.well-known/jwks.json' })).headers.etag
    t.same(await jwksKids(app), [A], 'not before this instance re-reads the directory')
    ctx.keys.reload()
    const changed = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': String(etagBefore) } })
    t.equal(changed.statusCode, 200, 'a client revalidating its cached JWKS gets the new set, not 304')
    t.not(changed.headers.etag, etagBefore)
    const published = await jwks(app)
    t.same(published.map((k) => k.kid).sort(), [A, B.kid].sort(), 'the new key is in the JWKS at once')
    const jwkB = published.find((k) => k.kid === B.kid)
    t.match(jwkB, { kid: B.kid, alg: to, use: 'sig', kty: KTY[to] })
    t.notOk(jwkB !== undefined && 'd' in jwkB, 'no private member in the JWKS')
    const res = await app.inject({ url: '/.well-known/jwks.json' })
    t.equal(res.headers['cache-control'], `public, max-age=${config.jwt.jwksMaxAge}`)

    // …but it does not sign yet, up to the last millisecond before signsFrom.
    t.equal(tokenHeader((await login(app)).accessToken).kid, A, 'right after rotate: A still signs')
    clock.set(B.signsFrom - S)
    const lastOfA = await login(app)
    t.equal(tokenHeader(lastOfA.accessToken).kid, A, 'one second before signsFrom: A still signs')
    clock.set(B.signsFrom - 1)
    t.equal(tokenHeader((await login(app)).refreshToken).kid, A, '1 ms before signsFrom: A still signs')

    // From signsFrom on, the new key signs with its own algorithm…
    clock.set(B.signsFrom)
    const fresh = await login(app)
    t.same(tokenHeader(fresh.accessToken), { alg: to, typ: 'at+jwt', kid: B.kid })
    t.same(tokenHeader(fresh.refreshToken), { alg: to, typ: 'rt+jwt', kid: B.kid })
    t.equal((await whoami(app, fresh.accessToken)).statusCode, 200, 'a token of the new key verifies')
    t.ok(verifiesWithJwks(fresh.accessToken, await jwks(app)), 'a downstream service verifies it with the JWKS alone')
    t.ok(verifiesWithJwks(alice.accessToken, await jwks(app)), '…and the old key\'s tokens too, during the grace')
    t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'verify-only', [B.kid]: 'signing' })

    // …and sessions opened before the switch go on: the old access token (still within its TTL) and the old refresh token.
    const who = await whoami(app, alice.accessToken)
    t.equal(who.statusCode, 200, `the access token from before the rotation still works: ${who.body}`)
    t.equal(who.json<{ sub: string }>().sub, alice.user.id)
    const renewed = await refresh(app, alice.refreshToken)
    t.equal(renewed.statusCode, 200, `the refresh token from before the rotation still works: ${renewed.body}`)
    const renewedBody = renewed.json<{ accessToken: string, refreshToken: string }>()
    t.same(tokenHeader(renewedBody.accessToken), { alg: to, typ: 'at+jwt', kid: B.kid }, 'the refresh yields a token of the new algorithm')
    t.same(tokenHeader(renewedBody.refreshToken), { alg: to, typ: 'rt+jwt', kid: B.kid })
    t.equal((await whoami(app, renewedBody.accessToken)).statusCode, 200)
    t.equal((await refresh(app, renewedBody.refreshToken)).statusCode, 200, 'the new refresh token refreshes')

    // A stays verifiable until every token it signed has expired: its last refresh token (signed 1 s
    // before signsFrom, 1h TTL) is good up to 30 s tolerance after its exp, and A is published until then.
    clock.set(B.signsFrom + GRACE - S)
    t.same(await jwksKids(app), [A, B.kid].sort(), 'grace - 1 s: A still published')
    t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'verify-only', [B.kid]: 'signing' })
    const late = await refresh(app, lastOfA.refreshToken)
    t.equal(late.statusCode, 200, `grace - 1 s: the last refresh token of A still refreshes: ${late.body}`)
    t.equal(tokenHeader(late.json<{ accessToken: string }>().accessToken).kid, B.kid)
    clock.set(B.signsFrom + GRACE - 1)
    t.same(await jwksKids(app), [A, B.kid].sort(), 'grace - 1 ms: A still published')

    // Then it leaves the JWKS and verifies nothing.
    clock.set(B.signsFrom + GRACE)
    t.same(await jwksKids(app), [B.kid], 'after the grace: only B is published')
    t.notOk(verifiesWithJwks(lastOfA.accessToken, await jwks(app)), 'downstream services can no longer verify A\'s tokens')
    t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'expired', [B.kid]: 'signing' })
    t.equal((await refresh(app, lastOfA.refreshToken)).statusCode, 401, 'tokens of the expired key are refused')
    t.equal(tokenHeader((await login(app)).accessToken).kid, B.kid, 'login keeps working with B')
    t.ok(clock.now() > START, 'time only moved forward')
  })
}

t.test('retire the only signing key: its tokens die at once, a replacement signs at once', async (t) => {
  const { app, clock, config, dir, keys } = await buildWithDir(t)
  const [{ kid: A, alg }] = dirKeys(dir)
  const alice = await register(app)
  // Verified once before the retirement, so a verification cache would hold it.
  t.equal((await whoami(app, alice.accessToken)).statusCode, 200)
  t.equal((await whoami(app, alice.accessToken)).statusCode, 200)

  clock.advance(M)
  const retire = await keysCli(['retire', A], config, clock)
  t.equal(retire.code, 0, retire.err)
  const after = dirKeys(dir)
  t.equal(after.length, 2, 'a replacement was created')
  const R = after.find((k) => k.kid !== A)
  if (R === undefined) throw new Error('no replacement')
  t.match(retire.out, new RegExp(`no other key could sign: added ${R.kid}`))
  t.match(retire.out, new RegExp(`retired ${A}`))
  t.equal(R.alg, alg, 'the replacement has the algorithm of the retired key')
  t.equal(R.signsFrom, clock.now(), 'the replacement signs at once')
  t.equal(after.find((k) => k.kid === A)?.retiredAt, clock.now())
  t.same(listedStates(retire.out.slice(retire.out.indexOf('KID'))), { [A]: 'retired', [R.kid]: 'signing' })
  t.same(filesIn(dir).filter((f) => !f.startsWith('.')), [`${A}.json`, `${A}.pem`, `${R.kid}.json`, `${R.kid}.pem`].sort())

  keys.reload()
  assertInvalidToken(t, await whoami(app, alice.accessToken), 'access token of the retired key')
  const res = await refresh(app, alice.refreshToken)
  t.equal(res.statusCode, 401, 'refresh token of the retired key')
  t.equal(res.json<{ code: string }>().code, 'ERR_REFRESH_TOKEN_INVALID')
  t.same(await jwksKids(app), [R.kid], 'the retired key left the JWKS')
  t.notOk(verifiesWithJwks(alice.accessToken, await jwks(app)), 'downstream services refuse it too once they refetch')

  const again = await login(app)
  t.same(tokenHeader(again.accessToken), { alg, typ: 'at+jwt', kid: R.kid }, 'login keeps working, signed by the replacement')
  t.equal((await whoami(app, again.accessToken)).statusCode, 200)
  t.equal((await refresh(app, again.refreshToken)).statusCode, 200)
  t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'retired', [R.kid]: 'signing' })
})

t.test('retire the signing key while a rotated key is still pending: a replacement signs at once', async (t) => {
  const { app, clock, config, dir, keys } = await buildWithDir(t)
  const [{ kid: A }] = dirKeys(dir)
  await register(app)
  t.equal((await keysCli(['rotate'], config, clock)).code, 0)
  const B = dirKeys(dir).find((k) => k.kid !== A)
  if (B === undefined) throw new Error('rotate added no key')
  clock.advance(M)
  const retire = await keysCli(['retire', A], config, clock)
  t.equal(retire.code, 0, retire.err)
  const R = dirKeys(dir).find((k) => k.kid !== A && k.kid !== B.kid)
  if (R === undefined) throw new Error('no replacement for the retired signer')
  t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'retired', [B.kid]: 'pending', [R.kid]: 'signing' })
  keys.reload()
  t.equal(tokenHeader((await login(app)).accessToken).kid, R.kid, 'the replacement signs now')
  t.same(await jwksKids(app), [B.kid, R.kid].sort())
  clock.set(B.signsFrom)
  t.equal(tokenHeader((await login(app)).accessToken).kid, B.kid, 'the rotated key signs at its signsFrom')
})

t.test('retire a verify-only key: no replacement, its tokens die, the signer goes on', async (t) => {
  const { app, clock, config, dir, keys } = await buildWithDir(t, { env: { JWT_ALG: 'ES256' } })
  const [{ kid: A }] = dirKeys(dir)
  const alice = await register(app)
  t.equal((await keysCli(['rotate'], config, clock)).code, 0)
  const B = dirKeys(dir).find((k) => k.kid !== A)
  if (B === undefined) throw new Error('rotate added no key')
  t.equal(B.alg, 'ES256', 'rotate defaults to JWT_ALG')
  clock.set(B.signsFrom + M)
  keys.reload()
  t.equal((await whoami(app, alice.accessToken)).statusCode, 200, 'A verifies while verify-only')

  const retire = await keysCli(['retire', A], config, clock)
  t.equal(retire.code, 0, retire.err)
  t.notMatch(retire.out, /added/, 'no replacement')
  t.equal(dirKeys(dir).length, 2)
  keys.reload()
  assertInvalidToken(t, await whoami(app, alice.accessToken), 'token of the retired verify-only key')
  t.equal((await refresh(app, alice.refreshToken)).statusCode, 401)
  t.same(await jwksKids(app), [B.kid])
  t.equal(tokenHeader((await login(app)).accessToken).kid, B.kid)
})

t.test('retire a pending key: it never signs, the current signer goes on', async (t) => {
  const { app, clock, config, dir, keys } = await buildWithDir(t)
  const [{ kid: A }] = dirKeys(dir)
  await register(app)
  t.equal((await keysCli(['rotate'], config, clock)).code, 0)
  const B = dirKeys(dir).find((k) => k.kid !== A)
  if (B === undefined) throw new Error('rotate added no key')
  const retire = await keysCli(['retire', B.kid], config, clock)
  t.equal(retire.code, 0, retire.err)
  t.equal(dirKeys(dir).length, 2, 'no replacement: A still signs')
  keys.reload()
  clock.set(B.signsFrom + GRACE)
  t.equal(tokenHeader((await login(app)).accessToken).kid, A)
  t.same(await jwksKids(app), [A])
  t.same(listedStates((await keysCli(['list'], config, clock)).out), { [A]: 'signing', [B.kid]: 'retired' })
})

t.test('keys CLI refuses bad input without touching the directory', async (t) => {
  const { clock, config, dir } = await buildWithDir(t)
  const before = filesIn(dir)
  const cases: Array<[string[], number, RegExp]> = [
    [['rotate', '--alg', 'HS256'], 2, /--alg must be EdDSA, ES256 or RS256/],
    [['rotate', '--alg', 'none'], 2, /--alg must be/],
    [['rotate', '--bogus'], 1, /Unknown option/],
    [['retire'], 2, /missing KID/],
    [['retire', 'nope'], 1, /no key nope/],
    [['frobnicate'], 2, /usage:/],
    [[], 2, /usage:/]
  ]
  for (const [args, code, err] of cases) {
    const r = await keysCli(args, config, clock)
    t.equal(r.code, code, `keys ${args.join(' ')} exits ${code}`)
    t.match(r.err, err)
    t.equal(r.out, '')
  }
  t.same(filesIn(dir), before)
})
