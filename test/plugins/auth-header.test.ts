// How the Bearer hook reads the Authorization header (RFC 6750 §2.1, §3; RFC 7235 §2.1) and refuses every other place or shape.
import { signatureChecks } from '../support/crypto-calls' // first: it must wrap node:crypto before fast-jwt loads
import { sign } from 'node:crypto'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { assertProblem, bearer, build, register, type TestContext } from '../support/app'

const WHOAMI = '/v1/auth/whoami'

const inject = (ctx: TestContext, headers: Record<string, string> = {}, url = WHOAMI) => ctx.app.inject({ url, headers })

function assertChallenge (t: Test, value: unknown, expected: string | RegExp): void {
  if (typeof expected === 'string') t.equal(value, expected)
  else t.match(String(value), expected)
}

const BARE = 'Bearer realm="tessera"'
const INVALID_REQUEST = /^Bearer realm="tessera", error="invalid_request"/
const INVALID_TOKEN = /^Bearer realm="tessera", error="invalid_token"/

interface RawResponse { status: number, headers: Record<string, string>, body: string }

/**
 * One HTTP/1.1 request written byte by byte: neither inject, node:http nor fetch can send a header twice
 * under the same name (they merge or replace), so two Authorization lines need a raw socket.
 */
async function rawRequest (port: number, lines: string[]): Promise<RawResponse> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    socket.on('error', reject)
    socket.write(lines.join('\r\n') + '\r\n\r\n')
  })
  const [head, ...rest] = text.split('\r\n\r\n')
  const [statusLine, ...headerLines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const i = line.indexOf(':')
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = rest.join('\r\n\r\n')
  // Fastify answers with Content-Length, but decode chunked framing should that change.
  if (headers['transfer-encoding'] === 'chunked') {
    let out = ''
    let s = body
    for (;;) {
      const nl = s.indexOf('\r\n')
      const size = parseInt(s.slice(0, nl), 16)
      if (!(size > 0)) break
      out += s.slice(nl + 2, nl + 2 + size)
      s = s.slice(nl + 2 + size + 2)
    }
    body = out
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body }
}

async function listen (ctx: TestContext): Promise<number> {
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  return (ctx.app.server.address() as AddressInfo).port
}

t.test('no Authorization header: 401 with the bare challenge (RFC 6750 §3.1: no error code without credentials)', async (t) => {
  const ctx = await build(t)
  const res = await inject(ctx)
  assertProblem(t, res, 401, 'ERR_AUTH_REQUIRED')
  t.equal(res.headers['www-authenticate'], BARE)
})

t.test('an empty Authorization header is no credentials', async (t) => {
  const ctx = await build(t)
  const res = await inject(ctx, { authorization: '' })
  assertProblem(t, res, 401, 'ERR_AUTH_REQUIRED')
  t.equal(res.headers['www-authenticate'], BARE)
})

t.test('another scheme (Basic, Digest, a lookalike) is no Bearer credential: 401 bare challenge', async (t) => {
  const ctx = await build(t)
  for (const value of ['Basic abc', 'Basic dXNlcjpwYXNz', 'Digest username="a"', 'Bearerx abc', 'Token abc']) {
    const res = await inject(ctx, { authorization: value })
    assertProblem(t, res, 401, 'ERR_AUTH_REQUIRED')
    assertChallenge(t, res.headers['www-authenticate'], BARE)
  }
})

t.test('malformed Bearer credentials: 400 invalid_request (RFC 6750 §3.1)', async (t) => {
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  const cases: Array<[string, string]> = [
    ['Bearer alone', 'Bearer'],
    ['Bearer and a space', 'Bearer '],
    ['Bearer  two  spaces', 'Bearer  two  spaces'],
    ['Bearer a b', 'Bearer a b'],
    ['a valid token followed by a second word', `Bearer ${accessToken} extra`],
    ['token with a $', `Bearer ${accessToken.slice(0, 20)}$${accessToken.slice(21)}`],
    ['token with a comma', `Bearer ${accessToken},x`],
    ['token with a quote', `Bearer "${accessToken}"`],
    ['token with a tab inside', `Bearer ${accessToken.slice(0, 20)}\t${accessToken.slice(20)}`],
    ['padding in the middle', 'Bearer abc=def'],
    ['non-ASCII token', 'Bearer ab\u00e9cd']
  ]
  for (const [name, value] of cases) {
    await t.test(name, async (t) => {
      const res = await inject(ctx, { authorization: value })
      assertProblem(t, res, 400, 'ERR_AUTH_MALFORMED')
      assertChallenge(t, res.headers['www-authenticate'], INVALID_REQUEST)
      t.notOk(res.body.includes(accessToken), 'the token is not echoed')
    })
  }
})

t.test('the scheme is case-insensitive (RFC 7235 §2.1); several spaces after it are allowed (RFC 6750 §2.1 1*SP)', async (t) => {
  const ctx = await build(t)
  const { accessToken, user } = await register(ctx.app)
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const res = await inject(ctx, { authorization: `${scheme} ${accessToken}` })
    t.equal(res.statusCode, 200, `${scheme}: ${res.body}`)
    t.equal(res.json().sub, user.id)
  }
  const spaced = await inject(ctx, { authorization: `Bearer   ${accessToken}` })
  t.equal(spaced.statusCode, 200, spaced.body)
})

t.test('two Authorization headers: 400 invalid_request, even when both carry the same valid token', async (t) => {
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  const port = await listen(ctx)
  const request = (auth: string[]) => rawRequest(port, [
    `GET ${WHOAMI} HTTP/1.1`, 'Host: 127.0.0.1', ...auth.map((a) => `Authorization: ${a}`), 'Connection: close'
  ])

  // Control over the same socket code: one header is accepted, so the 400 below is about the duplicate.
  const one = await request([`Bearer ${accessToken}`])
  t.equal(one.status, 200, one.body)

  for (const [name, pair] of [
    ['same token twice', [`Bearer ${accessToken}`, `Bearer ${accessToken}`]],
    ['valid then garbage', [`Bearer ${accessToken}`, 'Bearer garbage']],
    ['garbage then valid', ['Bearer garbage', `Bearer ${accessToken}`]],
    ['Basic then Bearer', ['Basic dXNlcjpwYXNz', `Bearer ${accessToken}`]]
  ] as Array<[string, string[]]>) {
    const res = await request(pair)
    t.equal(res.status, 400, `${name}: ${res.body}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.headers['www-authenticate'], INVALID_REQUEST)
    t.equal(JSON.parse(res.body).code, 'ERR_AUTH_MALFORMED', name)
  }

  // Lower- and mixed-case names are the same field (RFC 9110 §5.1).
  const mixed = await rawRequest(port, [
    `GET ${WHOAMI} HTTP/1.1`, 'Host: 127.0.0.1', `authorization: Bearer ${accessToken}`, `AUTHORIZATION: Bearer ${accessToken}`, 'Connection: close'
  ])
  t.equal(mixed.status, 400, mixed.body)
})

t.test('a token in the query string is refused and never accepted (RFC 6750 §2.3, §5.3; RFC 9700 §4.3.2)', async (t) => {
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)

  const onlyQuery = await inject(ctx, {}, `${WHOAMI}?access_token=${accessToken}`)
  assertProblem(t, onlyQuery, 400, 'ERR_AUTH_MALFORMED')
  assertChallenge(t, onlyQuery.headers['www-authenticate'], INVALID_REQUEST)
  t.notOk(onlyQuery.body.includes(accessToken), 'the token is not echoed')

  // Not even alongside a valid header: a second place for a credential is ambiguous, so the request is refused.
  const both = await inject(ctx, bearer(accessToken), `${WHOAMI}?access_token=${accessToken}`)
  assertProblem(t, both, 400, 'ERR_AUTH_MALFORMED')

  const empty = await inject(ctx, {}, `${WHOAMI}?access_token=`)
  assertProblem(t, empty, 400, 'ERR_AUTH_MALFORMED')

  const twice = await inject(ctx, {}, `${WHOAMI}?access_token=${accessToken}&access_token=${accessToken}`)
  assertProblem(t, twice, 400, 'ERR_AUTH_MALFORMED')

  // Other routes behind the hook behave the same.
  const me = await inject(ctx, {}, `/v1/me?access_token=${accessToken}`)
  assertProblem(t, me, 400, 'ERR_AUTH_MALFORMED')
})

/**
 * An access token signed with the app's own key and padded, by an extra claim, to exactly `length` characters: valid in
 * every respect but its size.
 */
function signedTokenOfLength (ctx: TestContext, length: number): string {
  const b64 = (json: string): string => Buffer.from(json).toString('base64url')
  const now = Math.floor(ctx.clock.now() / 1000)
  const { issuer, audience } = ctx.config.jwt
  const SIGNATURE_LENGTH = 86 // Ed25519: 64 bytes
  // A base64url segment is never 1 more than a multiple of 4 long: trailing JSON whitespace in the header is the other knob.
  for (const spaces of ['', ' ', '  ', '   ']) {
    const header = b64(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: ctx.key.kid }) + spaces)
    for (let pad = 0; pad < length; pad++) {
      const payload = b64(JSON.stringify({ iss: issuer, aud: audience, sub: 'padded-user', role: 'user', iat: now, exp: now + 900, jti: 'padded', pad: 'p'.repeat(pad) }))
      const size = header.length + 1 + payload.length + 1 + SIGNATURE_LENGTH
      if (size > length) break
      if (size < length) continue
      const input = `${header}.${payload}`
      return `${input}.${sign(null, Buffer.from(input), ctx.key.privateKey).toString('base64url')}`
    }
  }
  throw new Error(`no token of ${length} characters`)
}

t.test('the 4,096-character limit: a signed token one character over it is refused, unverified', async (t) => {
  const ctx = await build(t)
  const atLimit = signedTokenOfLength(ctx, 4096)
  t.equal(atLimit.length, 4096)
  t.equal((await inject(ctx, bearer(atLimit))).statusCode, 200, 'a valid token of 4,096 characters is accepted')

  const over = signedTokenOfLength(ctx, 4097)
  t.equal(over.length, 4097)
  signatureChecks.reset()
  const res = await inject(ctx, bearer(over))
  // Only the length check can refuse it: the signature, key, type and claims are all good.
  assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
  assertChallenge(t, res.headers['www-authenticate'], INVALID_TOKEN)
  t.equal(signatureChecks.count, 0, 'refused before any signature check')
})

t.test('an over-long token (5000 characters) is 401 invalid_token, refused before decoding', async (t) => {
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  for (const token of ['a'.repeat(5000), `${accessToken}.${'A'.repeat(5000 - accessToken.length - 1)}`]) {
    t.equal(token.length, 5000)
    const res = await inject(ctx, bearer(token))
    assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
    assertChallenge(t, res.headers['www-authenticate'], INVALID_TOKEN)
  }
  // 4096 is the limit: a token just at it reaches the verifier (and fails there, still 401).
  const atLimit = await inject(ctx, bearer('a'.repeat(4096)))
  assertProblem(t, atLimit, 401, 'ERR_TOKEN_INVALID')
})

t.test('a malformed header answer echoes no part of the token', async (t) => {
  const ctx = await build(t)
  const { accessToken } = await register(ctx.app)
  const res = await inject(ctx, { authorization: `Bearer ${accessToken}x$` })
  assertProblem(t, res, 400, 'ERR_AUTH_MALFORMED')
  t.notOk(String(res.headers['www-authenticate']).includes(accessToken))
  t.notOk(res.body.includes(accessToken))
})
