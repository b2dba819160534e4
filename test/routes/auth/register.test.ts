// POST /v1/auth/register: the AuthResult, email normalisation, password policy, strict bodies and concurrent sign-ups.
import t from 'tap'
import { assertProblem, build, PASSWORD, type AuthResultBody } from '../../support/app'

const URL = '/v1/auth/register'
const USER_KEYS = ['createdAt', 'disabled', 'email', 'emailVerified', 'id', 'mfaEnabled', 'name', 'role', 'updatedAt']

t.test('201 with an AuthResult; the user has no hash field at all; tokens are not cached', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'alice@example.com', password: PASSWORD, name: 'Alice' } })
  t.equal(res.statusCode, 201, res.body)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json<AuthResultBody>()
  t.same(Object.keys(body).sort(), ['accessToken', 'expiresIn', 'refreshExpiresIn', 'refreshToken', 'sessionId', 'tokenType', 'user'])
  t.same(Object.keys(body.user).sort(), USER_KEYS, 'exactly the User fields: no passwordHash, no tokenVersion')
  t.equal(body.tokenType, 'Bearer')
  t.equal(body.expiresIn, 900)
  t.equal(body.refreshExpiresIn, 30 * 24 * 3600)
  t.match(body.user, { email: 'alice@example.com', name: 'Alice', role: 'user', disabled: false, emailVerified: false })
  t.equal(body.user.createdAt, new Date(ctx.clock.now()).toISOString())
  t.equal(body.user.updatedAt, body.user.createdAt)
  t.match(body.user.id, /^[0-9a-z]{20,}$/, 'an opaque id, not a counter')
  t.not(body.accessToken, body.refreshToken)

  const me = await ctx.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${body.accessToken}` } })
  t.equal(me.statusCode, 200, 'the access token works at once')
  t.same(me.json(), body.user)
})

t.test('name is optional and null when absent', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'bob@example.com', password: PASSWORD } })
  t.equal(res.statusCode, 201)
  t.equal(res.json<AuthResultBody>().user.name, null)
})

t.test('email is trimmed, NFKC-normalised and lower-cased; a case variant is then taken', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: ' ＡＬＩＣＥ@Example.COM ', password: PASSWORD } })
  t.equal(res.statusCode, 201, res.body)
  t.equal(res.json<AuthResultBody>().user.email, 'alice@example.com')
  t.ok(await ctx.store.findByEmail('alice@example.com'), 'stored in normal form')

  for (const variant of ['alice@example.com', 'Alice@Example.Com', '  ALICE@EXAMPLE.COM']) {
    const again = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: variant, password: PASSWORD } })
    assertProblem(t, again, 409, 'ERR_EMAIL_TAKEN')
  }
  t.equal((await ctx.store.list({ limit: 10 })).length, 1)
})

t.test('an email that is not an address is a validation error', async (t) => {
  const ctx = await build(t)
  for (const email of ['not-an-email', 'a@b', 'two@@example.com', 'sp ace@example.com']) {
    const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email, password: PASSWORD } })
    assertProblem(t, res, 400, 'ERR_VALIDATION')
  }
  t.equal((await ctx.store.list({ limit: 10 })).length, 0)
})

t.test('password policy', async (t) => {
  const cases: Array<{ name: string, env?: Record<string, string>, password: string, status: number, code?: string }> = [
    { name: '14 characters (default minimum 15)', password: 'abcdefghijklmn', status: 400, code: 'ERR_PASSWORD_TOO_SHORT' },
    { name: '15 characters', password: 'abcdefghijklmno', status: 201 },
    { name: 'common password with PASSWORD_MIN_LENGTH=8', env: { PASSWORD_MIN_LENGTH: '8' }, password: 'password1', status: 400, code: 'ERR_PASSWORD_COMMON' },
    { name: 'common password in another case', env: { PASSWORD_MIN_LENGTH: '8' }, password: 'PassWord1', status: 400, code: 'ERR_PASSWORD_COMMON' },
    { name: '8 uncommon characters with PASSWORD_MIN_LENGTH=8', env: { PASSWORD_MIN_LENGTH: '8' }, password: 'qv7#Lm2!', status: 201 },
    { name: '128 code points', password: 'x'.repeat(128), status: 201 },
    { name: '128 emoji (256 UTF-16 units) count as 128', password: '🦊'.repeat(128), status: 201 },
    { name: '129 code points', password: 'x'.repeat(129), status: 400, code: 'ERR_PASSWORD_TOO_LONG' },
    { name: 'over-long input is refused by the schema', password: 'x'.repeat(300), status: 400, code: 'ERR_VALIDATION' },
    { name: 'a lone surrogate', password: 'abcdefghijklmnop\ud800', status: 400, code: 'ERR_PASSWORD_MALFORMED' },
    { name: 'a control character', password: 'abcdefgh\tijklmnop', status: 400, code: 'ERR_PASSWORD_MALFORMED' }
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const ctx = await build(t, { env: c.env })
      const res = await ctx.app.inject({ method: 'POST', url: URL, payload: { email: 'carol@example.com', password: c.password } })
      if (c.code === undefined) {
        t.equal(res.statusCode, c.status, res.body)
      } else {
        assertProblem(t, res, c.status, c.code)
        t.equal((await ctx.store.list({ limit: 10 })).length, 0, 'no account created')
      }
    })
  }
})

t.test('bad bodies are 400 ERR_VALIDATION and create nothing', async (t) => {
  const ctx = await build(t)
  const cases: Array<{ name: string, payload: string }> = [
    { name: 'empty object', payload: '{}' },
    { name: 'missing password', payload: JSON.stringify({ email: 'dave@example.com' }) },
    { name: 'missing email', payload: JSON.stringify({ password: PASSWORD }) },
    { name: 'password as an array (no coercion)', payload: JSON.stringify({ email: 'dave@example.com', password: [PASSWORD] }) },
    { name: 'password ["pw"]', payload: JSON.stringify({ email: 'dave@example.com', password: ['pw'] }) },
    { name: 'email as a number', payload: JSON.stringify({ email: 123, password: PASSWORD }) },
    { name: 'password as a number', payload: JSON.stringify({ email: 'dave@example.com', password: 123456789012345 }) },
    { name: 'empty password', payload: JSON.stringify({ email: 'dave@example.com', password: '' }) },
    { name: 'unknown property', payload: JSON.stringify({ email: 'dave@example.com', password: PASSWORD, role: 'admin' }) },
    { name: 'name too long', payload: JSON.stringify({ email: 'dave@example.com', password: PASSWORD, name: 'n'.repeat(101) }) },
    { name: 'name null', payload: JSON.stringify({ email: 'dave@example.com', password: PASSWORD, name: null }) },
    { name: 'null body', payload: 'null' },
    { name: 'array body', payload: JSON.stringify([{ email: 'dave@example.com', password: PASSWORD }]) },
    { name: 'string body', payload: '"dave@example.com"' }
  ]
  for (const c of cases) {
    const res = await ctx.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: c.payload })
    await t.test(c.name, async (t) => assertProblem(t, res, 400, 'ERR_VALIDATION'))
  }
  t.equal((await ctx.store.list({ limit: 10 })).length, 0, 'nothing was created')
})

t.test('transport errors: invalid JSON, wrong media type, body too large', async (t) => {
  const ctx = await build(t)
  const cases: Array<{ name: string, headers: Record<string, string>, payload: string, status: number, code: string }> = [
    { name: 'invalid JSON', headers: { 'content-type': 'application/json' }, payload: '{"email": "eve@example.com",', status: 400, code: 'ERR_MALFORMED_JSON' },
    { name: 'empty JSON body', headers: { 'content-type': 'application/json' }, payload: '', status: 400, code: 'ERR_MALFORMED_JSON' },
    {
      name: 'text/plain',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({ email: 'eve@example.com', password: PASSWORD }),
      status: 415,
      code: 'ERR_UNSUPPORTED_MEDIA_TYPE'
    },
    {
      name: 'form-urlencoded',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=eve%40example.com&password=x',
      status: 415,
      code: 'ERR_UNSUPPORTED_MEDIA_TYPE'
    },
    {
      name: 'a 20 KB body',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'eve@example.com', password: PASSWORD, name: 'n'.repeat(20 * 1024) }),
      status: 413,
      code: 'ERR_PAYLOAD_TOO_LARGE'
    }
  ]
  for (const c of cases) {
    const res = await ctx.app.inject({ method: 'POST', url: URL, headers: c.headers, payload: c.payload })
    await t.test(c.name, async (t) => assertProblem(t, res, c.status, c.code))
  }
  t.equal((await ctx.store.list({ limit: 10 })).length, 0, 'nothing was created')
})

t.test('10 parallel registrations of one email: exactly one account', async (t) => {
  const ctx = await build(t)
  // Case variants of the same address race on the unique (normalised, NOCASE) email.
  const emails = Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? 'race@example.com' : 'RACE@Example.com')
  const results = await Promise.all(emails.map((email) =>
    ctx.app.inject({ method: 'POST', url: URL, payload: { email, password: PASSWORD } })))
  const created = results.filter((r) => r.statusCode === 201)
  const taken = results.filter((r) => r.statusCode === 409)
  t.equal(created.length, 1, 'one 201')
  t.equal(taken.length, 9, 'nine 409')
  for (const r of taken) t.equal(r.json<{ code: string }>().code, 'ERR_EMAIL_TAKEN')
  const rows = await ctx.store.list({ limit: 100 })
  t.equal(rows.length, 1, 'one row in the store')
  t.equal(rows[0].id, created[0].json<AuthResultBody>().user.id)
})
