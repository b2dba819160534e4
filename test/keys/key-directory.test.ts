// Key material from disk and environment: first-start generation (also by 4 processes racing on one
// empty directory), private-key permissions, weak RSA, JWT_PRIVATE_KEY, HS256, and tokens whose
// header does not match a key (alg confusion, kid/alg mismatch, unknown kid).
import { spawn } from 'node:child_process'
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app'
import { ManualClock } from '../../src/clock'
import { ConfigError } from '../../src/config'
import { thumbprintKid, type JwtAlg } from '../../src/keys/key'
import { KeyDirectory, KeyFileError } from '../../src/keys/key-directory'
import { createKeyProvider } from '../../src/keys/key-provider'
import { PasswordHasher } from '../../src/lib/password-hasher'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { register, START, testConfig } from '../support/app'
import { assertInvalidToken, buildWithDir, dirKeys, filesIn, jwks, keysCli, login, recordingLogger, tokenHeader, whoami } from '../support/keys'

const REPO_ROOT = resolve(__dirname, '..', '..')
const ASYMMETRIC: Array<Exclude<JwtAlg, 'HS256'>> = ['EdDSA', 'ES256', 'RS256']
const SECRET = 'k3y-'.repeat(8) + randomBytes(8).toString('hex')

/** An app over a given provider environment (no key directory defaults), torn down with the test. */
async function buildFromEnv (t: Test, env: Record<string, string>, clock = new ManualClock(START)): Promise<FastifyInstance> {
  const config = testConfig(env)
  const keys = createKeyProvider(config.jwt, clock, recordingLogger())
  const app = await buildApp(config, {
    clock, keys, store: createSqliteStore({ path: ':memory:', clock }), hasher: new PasswordHasher(config.password.argon2), logger: false
  })
  t.teardown(() => app.close())
  return app
}

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A compact JWS with any header, signed by `signer` over `header.payload`. */
function forge (header: object, payload: object, signer: (input: Buffer) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`
}

function accessClaims (clock: ManualClock, sub = 'someone'): object {
  const now = Math.floor(clock.now() / 1000)
  return { iss: 'tessera', aud: 'tessera-api', sub, role: 'user', iat: now, exp: now + 900, jti: randomBytes(12).toString('base64url') }
}

const signWith = (alg: JwtAlg, key: KeyObject | string) => (input: Buffer): Buffer => {
  switch (alg) {
    case 'EdDSA': return sign(null, input, key)
    case 'RS256': return sign('sha256', input, key)
    case 'ES256': return sign('sha256', input, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' })
    case 'HS256': return createHmac('sha256', key).update(input).digest()
  }
}

function pemOf (key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString()
}

t.test('first start: an empty directory gets exactly one key of the configured algorithm', async (t) => {
  for (const alg of ASYMMETRIC) {
    t.test(alg, async (t) => {
      const dir = join(t.testdir(), 'keys', 'nested')
      const clock = new ManualClock(START)
      const log = recordingLogger()
      const config = testConfig({ JWT_KEYS_DIR: dir, JWT_ALG: alg })
      const provider = createKeyProvider(config.jwt, clock, log)
      t.teardown(() => provider.close())
      const keys = dirKeys(dir)
      t.equal(keys.length, 1, 'one key')
      t.match(keys[0], { alg, createdAt: START, signsFrom: START, retiredAt: null })
      t.same(filesIn(dir), [`${keys[0].kid}.json`, `${keys[0].kid}.pem`], 'one PEM and one metadata file, no lock or temp file left')
      t.equal(statSync(join(dir, `${keys[0].kid}.pem`)).mode & 0o777, 0o600, 'the private key is 0600')
      t.equal(statSync(dir).mode & 0o077, 0, 'the created directory is private')
      t.equal(provider.ring().signingKey().kid, keys[0].kid, 'and it signs at once')
      t.match(log.lines, [{ level: 'info', msg: /generated/, obj: { kid: keys[0].kid, alg } }], 'the generation is logged')
      const pem = createPrivateKey(readFileSync(join(dir, `${keys[0].kid}.pem`)))
      t.equal(keys[0].kid, thumbprintKid(pem.export({ format: 'jwk' })), 'kid is the thumbprint of the key')

      const second = createKeyProvider(config.jwt, clock, recordingLogger())
      t.teardown(() => second.close())
      t.equal(dirKeys(dir).length, 1, 'a second start reuses the key')
      t.equal(second.ring().signingKey().kid, keys[0].kid)
    })
  }
})

t.test('4 processes starting together on one empty directory create exactly one key', async (t) => {
  const child = `
    const { existsSync, writeFileSync } = require('node:fs')
    const { join } = require('node:path')
    const { loadConfig } = require('./src/config')
    const { createKeyProvider } = require('./src/keys/key-provider')
    const config = loadConfig({ DATABASE_URL: 'sqlite::memory:', JWT_KEYS_DIR: process.env.KEYS_DIR, JWT_ALG: process.env.ALG })
    writeFileSync(join(process.env.BARRIER, 'ready-' + process.pid), '')
    const cell = new Int32Array(new SharedArrayBuffer(4))
    while (!existsSync(join(process.env.BARRIER, 'go'))) Atomics.wait(cell, 0, 0, 1)
    const provider = createKeyProvider(config.jwt, { now: () => Date.now() }, { info () {}, error () {} })
    const key = provider.ring().signingKey()
    provider.close()
    process.stdout.write(JSON.stringify({ kid: key.kid, alg: key.alg }))
  `
  const run = (env: Record<string, string>): Promise<{ code: number | null, out: string, err: string }> => new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '-e', child], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { err += d.toString() })
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, out, err }))
  })

  // ES256: a configured algorithm other than the default; RS256: slow generation, a wide race window.
  for (const alg of ['ES256', 'RS256'] as const) {
    t.test(alg, async (t) => {
      const root = t.testdir({ keys: {}, barrier: {} })
      const keysDir = join(root, 'keys')
      const barrier = join(root, 'barrier')
      const env = { KEYS_DIR: keysDir, BARRIER: barrier, ALG: alg }
      const children = [run(env), run(env), run(env), run(env)]
      // Release them together once all four are loaded and waiting.
      const deadline = Date.now() + 30_000
      while (filesIn(barrier).filter((f) => f.startsWith('ready-')).length < 4 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      t.equal(filesIn(barrier).length, 4, 'all four children reached the barrier')
      writeFileSync(join(barrier, 'go'), '')
      const results = await Promise.all(children)
      for (const r of results) t.equal(r.code, 0, `child exited 0 ${r.err}`)
      const kids = results.map((r) => (JSON.parse(r.out) as { kid: string, alg: string }))
      const keys = dirKeys(keysDir)
      t.equal(keys.length, 1, 'exactly one key')
      t.same(filesIn(keysDir), [`${keys[0].kid}.json`, `${keys[0].kid}.pem`], 'exactly one file pair, no lock or temp file')
      t.equal(keys[0].alg, alg)
      t.same(kids, Array(4).fill({ kid: keys[0].kid, alg }), 'every process signs with that key')
    })
  }
})

t.test('a private key readable by group or others is refused, naming the file', { skip: process.platform === 'win32' ? 'POSIX modes only' : false }, async (t) => {
  const { dir, config, clock } = await buildWithDir(t)
  const [{ kid }] = dirKeys(dir)
  const pem = join(dir, `${kid}.pem`)
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(pem, mode)
    const message = new RegExp(`private key ${pem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is readable by group or others \\(mode ${mode.toString(8)}\\); run: chmod 600`)
    t.throws(() => new KeyDirectory(dir).load(), { name: 'KeyFileError', message }, `KeyDirectory.load refuses mode ${mode.toString(8)}`)
    t.throws(() => createKeyProvider(config.jwt, clock, recordingLogger()), message, `createKeyProvider refuses mode ${mode.toString(8)}`)
  }
  const rotate = await keysCli(['rotate'], config, clock)
  t.equal(rotate.code, 1, 'the CLI refuses too')
  t.match(rotate.err, pem)
  t.equal(dirKeys(dir).length, 1, 'and adds nothing')

  // Fixed with chmod 600, it loads again.
  chmodSync(pem, 0o600)
  t.equal(new KeyDirectory(dir).load().length, 1)

  // A running instance that meets a bad mode on reload keeps the keys it has, and logs why.
  const log = recordingLogger()
  const running = createKeyProvider(config.jwt, clock, log)
  t.teardown(() => running.close())
  t.equal((await keysCli(['rotate'], config, clock)).code, 0)
  const added = dirKeys(dir).find((k) => k.kid !== kid)
  if (added === undefined) throw new Error('rotate added no key')
  chmodSync(join(dir, `${added.kid}.pem`), 0o644)
  running.reload()
  t.same(running.ring().keys.map((k) => k.kid), [kid], 'the previous keys stay')
  t.match(log.lines, [{ level: 'error', msg: /reload failed/, obj: { err: { message: /readable by group or others/ } } }])
})

/** Put a key in the directory by hand, the way an operator would copy one in. */
function writeKey (dir: string, kid: string, alg: JwtAlg, pem: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${kid}.pem`), pem, { mode: 0o600 })
  chmodSync(join(dir, `${kid}.pem`), 0o600)
  writeFileSync(join(dir, `${kid}.json`), JSON.stringify({ kid, alg, createdAt: START, signsFrom: START, retiredAt: null }))
}

t.test('a weak RSA key (1024 bits) in the directory is refused, naming the file', async (t) => {
  const root = t.testdir({ weak: {}, ok: {} })
  const dir = join(root, 'weak')
  writeKey(dir, 'weak1024', 'RS256', pemOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey))
  const pem = join(dir, 'weak1024.pem')
  const message = /invalid private key .*weak1024\.pem: RSA key of 1024 bits is too weak: at least 2048 bits are required/
  t.throws(() => new KeyDirectory(dir).load(), { name: 'KeyFileError', message })
  let thrown: unknown
  try { new KeyDirectory(dir).load() } catch (err) { thrown = err }
  t.ok(thrown instanceof KeyFileError && thrown.message.includes(pem), 'the message names the file by its full path')
  for (const alg of ['RS256', 'EdDSA'] as const) {
    t.throws(() => createKeyProvider(testConfig({ JWT_KEYS_DIR: dir, JWT_ALG: alg }).jwt, new ManualClock(START), recordingLogger()), message,
      `createKeyProvider (JWT_ALG=${alg}) refuses it`)
  }
  t.same(filesIn(dir), ['weak1024.json', 'weak1024.pem'], 'no key was generated beside it')

  // 2048 bits is accepted.
  const ok = join(root, 'ok')
  writeKey(ok, 'rsa2048', 'RS256', pemOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey))
  t.match(new KeyDirectory(ok).load(), [{ kid: 'rsa2048', alg: 'RS256', jwk: { kty: 'RSA' } }])
})

t.test('metadata that lies about the key, or is not metadata, is refused', async (t) => {
  const root = t.testdir({
    lying: {},
    garbage: { 'x.json': '{ not json' },
    hs: { 'h.json': JSON.stringify({ kid: 'h', alg: 'HS256', createdAt: 0, signsFrom: 0, retiredAt: null }) },
    badKid: { 'k.json': JSON.stringify({ kid: '../etc/passwd', alg: 'EdDSA', createdAt: 0, signsFrom: 0, retiredAt: null }) }
  })
  writeKey(join(root, 'lying'), 'liar', 'RS256', pemOf(generateKeyPairSync('ed25519').privateKey))
  t.throws(() => new KeyDirectory(join(root, 'lying')).load(),
    { name: 'KeyFileError', message: /liar\.pem: key liar is a EdDSA key but its metadata says RS256/ })
  t.throws(() => new KeyDirectory(join(root, 'garbage')).load(), { name: 'KeyFileError', message: /cannot read key metadata .*x\.json/ })
  t.throws(() => new KeyDirectory(join(root, 'hs')).load(), KeyFileError, 'HS256 is never a key-directory algorithm')
  t.throws(() => new KeyDirectory(join(root, 'badKid')).load(), { message: /invalid key metadata/ }, 'a kid that is a path is refused')
  t.same(new KeyDirectory(join(root, 'missing')).load(), [], 'a missing directory holds no keys')
})

t.test('JWT_PRIVATE_KEY: a PEM in the environment signs; the key directory and the keys CLI are not used', async (t) => {
  const variants: Array<[string, Exclude<JwtAlg, 'HS256'>, (pem: string) => string]> = [
    ['EdDSA with literal \\n escapes', 'EdDSA', (pem) => pem.trimEnd().replaceAll('\n', '\\n')],
    ['EdDSA with real newlines', 'EdDSA', (pem) => pem],
    ['ES256 with literal \\n escapes', 'ES256', (pem) => pem.replaceAll('\n', '\\n')],
    ['RS256 with literal \\n escapes', 'RS256', (pem) => pem.replaceAll('\n', '\\n')]
  ]
  for (const [name, alg, encode] of variants) {
    t.test(name, async (t) => {
      const dir = t.testdir()
      const privateKey = alg === 'EdDSA' ? generateKeyPairSync('ed25519').privateKey
        : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
          : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
      const env = { JWT_ALG: alg, JWT_KEYS_DIR: dir, JWT_PRIVATE_KEY: encode(pemOf(privateKey)) }
      if (name.includes('literal')) t.notMatch(env.JWT_PRIVATE_KEY, /\n/, 'the variable holds no real newline')
      const app = await buildFromEnv(t, env)
      const kid = thumbprintKid(privateKey.export({ format: 'jwk' }))
      const alice = await register(app)
      t.same(tokenHeader(alice.accessToken), { alg, typ: 'at+jwt', kid })
      t.equal((await whoami(app, alice.accessToken)).statusCode, 200)
      const published = await jwks(app)
      t.same(published.map((k) => k.kid), [kid])
      const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
      t.match(published[0], { ...jwk, kid, alg, use: 'sig' }, 'the JWKS holds the public half of the environment key')

      t.same(filesIn(dir), [], 'the key directory is left alone')
      const config = testConfig(env)
      for (const args of [['list'], ['rotate'], ['retire', kid]]) {
        const r = await keysCli(args, config, new ManualClock(START))
        t.equal(r.code, 1, `keys ${args[0]} refuses`)
        t.match(r.err, /JWT_PRIVATE_KEY is set/)
        t.equal(r.out, '')
      }
      t.same(filesIn(dir), [], 'still nothing in the key directory')
    })
  }

  t.test('a key that does not match JWT_ALG, a weak key or garbage is refused', async (t) => {
    const clock = new ManualClock(START)
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ JWT_ALG: 'RS256', JWT_PRIVATE_KEY: pemOf(generateKeyPairSync('ed25519').privateKey) }, /JWT_PRIVATE_KEY is a EdDSA key but JWT_ALG is RS256/],
      [{ JWT_ALG: 'RS256', JWT_PRIVATE_KEY: pemOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey) }, /1024 bits is too weak/],
      [{ JWT_ALG: 'ES256', JWT_PRIVATE_KEY: pemOf(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey) }, /unsupported key type/],
      [{ JWT_ALG: 'EdDSA', JWT_PRIVATE_KEY: 'not a pem' }, /./]
    ]
    const dir = t.testdir()
    for (const [env, message] of cases) {
      t.throws(() => createKeyProvider(testConfig({ JWT_KEYS_DIR: dir, ...env }).jwt, clock, recordingLogger()), message)
    }
    t.same(filesIn(dir), [], 'nothing generated in the key directory instead')
    t.throws(() => testConfig({ JWT_ALG: 'HS256', JWT_SECRET: SECRET, JWT_PRIVATE_KEY: 'x' }), ConfigError, 'HS256 with a private key is a configuration error')
  })
})

t.test('HS256: tokens MAC\'d with JWT_SECRET verify; the JWKS publishes nothing; the secret is checked', async (t) => {
  const dir = t.testdir()
  const env = { JWT_ALG: 'HS256', JWT_SECRET: SECRET, JWT_KEYS_DIR: dir }
  const app = await buildFromEnv(t, env)
  const alice = await register(app)
  const header = tokenHeader(alice.accessToken)
  t.match(header, { alg: 'HS256', typ: 'at+jwt', kid: /^hs-[A-Za-z0-9_-]{8}$/ })
  t.equal((await whoami(app, alice.accessToken)).statusCode, 200, 'the access token verifies')
  const renewed = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: alice.refreshToken } })
  t.equal(renewed.statusCode, 200, 'the refresh token verifies')

  const res = await app.inject({ url: '/.well-known/jwks.json' })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '{"keys":[]}', 'the shared secret is never published')
  t.notMatch(res.body, SECRET)

  // The MAC really is HMAC-SHA256 with the secret: a token we MAC ourselves verifies, one MAC'd with another secret does not.
  const clock = new ManualClock(START)
  const claims = { ...accessClaims(clock, alice.user.id) }
  t.equal((await whoami(app, forge({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }, claims, signWith('HS256', SECRET)))).statusCode, 200,
    'control: a token MAC\'d with JWT_SECRET verifies')
  assertInvalidToken(t, await whoami(app, forge({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }, claims, signWith('HS256', SECRET + 'x'))),
    'MAC with another secret')
  assertInvalidToken(t, await whoami(app, forge({ alg: 'HS256', typ: 'at+jwt', kid: 'hs-other' }, claims, signWith('HS256', SECRET))),
    'right MAC, unknown kid')
  assertInvalidToken(t, await whoami(app, forge({ alg: 'HS384', typ: 'at+jwt', kid: header.kid }, claims,
    (input) => createHmac('sha384', SECRET).update(input).digest())), 'another HMAC algorithm')

  // Two instances sharing the secret agree on the kid, and verify each other's tokens.
  const other = await buildFromEnv(t, env)
  t.equal((await whoami(other, alice.accessToken)).statusCode, 200, 'another instance with the same secret verifies it')

  t.same(filesIn(dir), [], 'no key file is created for HS256')
  const r = await keysCli(['rotate'], testConfig(env), clock)
  t.equal(r.code, 1, 'the keys CLI refuses HS256')
  t.match(r.err, /JWT_ALG=HS256 uses JWT_SECRET/)
  t.same(filesIn(dir), [])

  for (const secret of ['', 'short', 'x'.repeat(31)]) {
    t.throws(() => testConfig({ JWT_ALG: 'HS256', JWT_SECRET: secret }), { name: 'ConfigError', message: /JWT_SECRET/ }, `secret of ${secret.length} bytes refused`)
  }
  t.ok(testConfig({ JWT_ALG: 'HS256', JWT_SECRET: 'x'.repeat(32) }), '32 bytes accepted')
})

t.test('tokens whose header does not match a published key are 401 invalid_token', async (t) => {
  const ctx = await buildWithDir(t)
  const { app, clock, dir, config } = ctx
  const alice = await register(app)
  const [{ kid: A }] = dirKeys(dir)
  const privateA = createPrivateKey(readFileSync(join(dir, `${A}.pem`)))
  const [jwkA] = await jwks(app)
  const publicPem = createPublicKey({ key: jwkA as unknown as JsonWebKey, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString()
  const claims = accessClaims(clock, alice.user.id)
  const at = (header: Record<string, unknown>): object => ({ typ: 'at+jwt', ...header })

  t.equal((await whoami(app, forge(at({ alg: 'EdDSA', kid: A }), claims, signWith('EdDSA', privateA)))).statusCode, 200,
    'control: the forging helper with the right key, kid and alg makes a token that verifies')

  // Algorithm confusion: HS256 MAC'd with the public key text anyone can fetch from the JWKS.
  const publicTexts: Array<[string, string]> = [
    ['the public key PEM', publicPem],
    ['the PEM without its trailing newline', publicPem.trimEnd()],
    ['the JWK JSON', JSON.stringify(jwkA)],
    ['the raw x member', jwkA.x ?? '']
  ]
  for (const [name, text] of publicTexts) {
    for (const header of [{ alg: 'HS256', kid: A }, { alg: 'HS256' }, { alg: 'EdDSA', kid: A }]) {
      assertInvalidToken(t, await whoami(app, forge(at(header), claims, signWith('HS256', text))), `HS256 MAC with ${name}, header ${JSON.stringify(header)}`)
    }
  }
  for (const alg of ['none', 'None', 'NONE']) {
    const unsigned = `${b64(at({ alg, kid: A }))}.${b64(claims)}.`
    assertInvalidToken(t, await whoami(app, unsigned), `alg ${alg}`)
  }

  // kid/alg mismatch: the kid names A (EdDSA) but the header says otherwise.
  const rotate = await keysCli(['rotate', '--alg', 'RS256'], config, clock)
  t.equal(rotate.code, 0, rotate.err)
  ctx.keys.reload()
  const B = dirKeys(dir).find((k) => k.kid !== A)
  if (B === undefined) throw new Error('rotate added no key')
  const privateB = createPrivateKey(readFileSync(join(dir, `${B.kid}.pem`)))
  t.equal((await whoami(app, forge(at({ alg: 'RS256', kid: B.kid }), claims, signWith('RS256', privateB)))).statusCode, 200,
    'control: the pending RS256 key verifies its own tokens')
  const mismatches: Array<[string, Record<string, unknown>, (input: Buffer) => Buffer]> = [
    ['A\'s Ed25519 signature, header alg ES256', { alg: 'ES256', kid: A }, signWith('EdDSA', privateA)],
    ['A\'s Ed25519 signature, header alg RS256', { alg: 'RS256', kid: A }, signWith('EdDSA', privateA)],
    ['B\'s RSA signature, kid of A', { alg: 'RS256', kid: A }, signWith('RS256', privateB)],
    ['A\'s signature, kid of B', { alg: 'EdDSA', kid: B.kid }, signWith('EdDSA', privateA)],
    ['B\'s RSA key with PS256', { alg: 'PS256', kid: B.kid }, (input) => sign('sha256', input, { key: privateB, padding: 6 /* RSA_PKCS1_PSS_PADDING */ })],
    ['B\'s RSA key, MAC with B\'s public PEM', { alg: 'HS256', kid: B.kid },
      signWith('HS256', createPublicKey(privateB).export({ format: 'pem', type: 'spki' }).toString())]
  ]
  for (const [name, header, signer] of mismatches) assertInvalidToken(t, await whoami(app, forge(at(header), claims, signer)), name)

  // Unknown kid, missing kid, and header-supplied keys.
  const stranger = generateKeyPairSync('ed25519').privateKey
  const strangerJwk = createPublicKey(stranger).export({ format: 'jwk' })
  const unknown: Array<[string, Record<string, unknown>, (input: Buffer) => Buffer]> = [
    ['a stranger\'s key with an unknown kid', { alg: 'EdDSA', kid: 'nope' }, signWith('EdDSA', stranger)],
    ['a stranger\'s key with its own thumbprint kid', { alg: 'EdDSA', kid: thumbprintKid(strangerJwk) }, signWith('EdDSA', stranger)],
    ['a stranger\'s key with A\'s kid', { alg: 'EdDSA', kid: A }, signWith('EdDSA', stranger)],
    ['A\'s key with an unknown kid', { alg: 'EdDSA', kid: 'nope' }, signWith('EdDSA', privateA)],
    ['A\'s key without kid', { alg: 'EdDSA' }, signWith('EdDSA', privateA)],
    ['kid as a number', { alg: 'EdDSA', kid: 7 }, signWith('EdDSA', privateA)],
    ['the key in a jwk header, unknown kid', { alg: 'EdDSA', kid: 'nope', jwk: strangerJwk }, signWith('EdDSA', stranger)],
    ['the key in a jwk header, no kid', { alg: 'EdDSA', jwk: strangerJwk }, signWith('EdDSA', stranger)],
    ['a jku header', { alg: 'EdDSA', kid: 'nope', jku: 'https://attacker.example/jwks.json' }, signWith('EdDSA', stranger)]
  ]
  for (const [name, header, signer] of unknown) {
    const res = await whoami(app, forge(at(header), claims, signer))
    assertInvalidToken(t, res, name)
    t.notMatch(res.body, /FAST_JWT|nope/, `${name}: no library message or header value echoed`)
  }
  const res = await whoami(app, forge(at({ alg: 'EdDSA', kid: 'nope' }), claims, signWith('EdDSA', stranger)))
  t.match(res.headers['www-authenticate'], /error_description="The token is signed with an unknown or retired key"/)

  t.equal((await whoami(app, alice.accessToken)).statusCode, 200, 'the real token still verifies')
  t.equal(tokenHeader((await login(app)).accessToken).kid, A)
})
