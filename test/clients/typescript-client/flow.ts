// The client program of test/clients/generated-client.test.ts: it uses examples/typescript-client against a real
// Tessera. The test type-checks this file against types freshly generated from openapi.yaml, then runs it.
// Not part of the root tsconfig: its types exist only once openapi-typescript has run (see the test).
import {
  createTesseraClient, isInvalidTokenChallenge, isMfaChallenge, type AuthResult, type MfaChallenge, type Problem, type ProblemCode,
  type TesseraClient, type Tokens
} from '../../../examples/typescript-client/client'
import type { Checks, Exchange, FlowOptions } from './flow-types'

export const PASSWORD = 'correct horse battery staple'
const NEW_PASSWORD = 'a brand new passphrase for ada'
const EXPIRY_TIMEOUT_MS = 6_000

/** A fetch that records every exchange, so the test can count refreshes and compare the requests with docs/clients.md. */
function recordingFetch (log: Exchange[]): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url)
    const authorization = request.headers.get('authorization')
    const response = await fetch(request)
    log.push({ method: request.method, path: url.pathname + url.search, status: response.status, bearer: authorization !== null })
    return response
  }
}

const refreshes = (log: Exchange[]): number => log.filter((e) => e.path === '/v1/auth/refresh').length

/** Fails the test on a problem, and narrows the answer to its data (typed from the schema) otherwise. */
function expectData<T> (t: Checks, answer: { data?: T, error?: Problem }, what: string): T {
  if (answer.error !== undefined || answer.data === undefined) {
    t.fail(`${what}: ${answer.error?.code ?? 'no data'} ${answer.error?.detail ?? ''}`)
    throw new Error(`${what} failed`)
  }
  t.pass(what)
  return answer.data
}

/** A login that signed in (no second factor asked for): narrows the union of login's answer to AuthResult. */
function expectSignedIn (t: Checks, answer: { data?: AuthResult | MfaChallenge, error?: Problem }, what: string): AuthResult {
  const data = expectData(t, answer, what)
  if (isMfaChallenge(data)) {
    t.fail(`${what}: a second factor was asked for`)
    throw new Error(`${what} failed`)
  }
  return data
}

function expectProblem (t: Checks, answer: { error?: Problem }, status: number, code: ProblemCode, what: string): Problem | undefined {
  t.equal(answer.error?.status, status, `${what}: ${status}`)
  t.equal(answer.error?.code, code, `${what}: ${code}`)
  return answer.error
}

/** Poll whoami with the raw token (not through the wrapper) until the server calls it expired. Bounded. */
async function waitForExpiry (t: Checks, baseUrl: string, tokens: Tokens | null): Promise<void> {
  if (tokens === null) throw new Error('no session to wait on')
  const deadline = Date.now() + EXPIRY_TIMEOUT_MS
  for (;;) {
    const response = await fetch(`${baseUrl}/v1/auth/whoami`, { headers: { authorization: `Bearer ${tokens.accessToken}` } })
    if (isInvalidTokenChallenge(response)) {
      t.pass('the access token has expired on the server')
      return
    }
    if (Date.now() > deadline) throw new Error(`the access token did not expire within ${EXPIRY_TIMEOUT_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * Everything a user and an administrator do, with a 15-minute access token (no refresh happens by surprise):
 * register, login, profile, password change, refresh, admin routes, logout-all, and the typed problems on the way.
 */
export async function accountFlow (t: Checks, options: FlowOptions): Promise<void> {
  const { baseUrl, email, adminEmail, adminPassword, log } = options
  const ended: Problem[] = []
  const client = createTesseraClient({ baseUrl, fetch: recordingFetch(log), onSessionEnded: (p) => ended.push(p) })

  // Register: 201 and a session. The generated types know AuthResult, so these fields need no casts.
  const registered = expectData(t, await client.register({ email, password: PASSWORD, name: 'Ada' }), 'register')
  t.equal(registered.user.email, email, 'register: the account')
  t.equal(registered.user.role, 'user', 'register: role user')
  t.equal(registered.tokenType, 'Bearer', 'register: tokenType')
  t.ok(registered.expiresIn > 60 && registered.refreshExpiresIn > registered.expiresIn, 'register: both lifetimes, in seconds')

  // Problems are typed: `code` is a union of the codes openapi.yaml lists, `errors` the field errors.
  expectProblem(t, await client.register({ email, password: PASSWORD }), 409, 'ERR_EMAIL_TAKEN', 'register again')
  const weak = expectProblem(t, await client.register({ email: `weak-${email}`, password: 'short' }), 400, 'ERR_PASSWORD_TOO_SHORT', 'a short password')
  t.same(weak?.errors?.map((e) => e.path), ['/password'], 'a short password: the field is named')
  const wrongLogin = await client.api.POST('/v1/auth/login', { body: { email, password: 'not the password at all' } })
  expectProblem(t, wrongLogin, 401, 'ERR_INVALID_CREDENTIALS', 'login with a wrong password')
  t.equal(wrongLogin.response.headers.get('www-authenticate'), null, 'login 401: no Bearer challenge, so no refresh either')

  expectData(t, await client.login({ email, password: PASSWORD }), 'login')

  const me = expectData(t, await client.api.GET('/v1/me'), 'GET /v1/me')
  t.equal(me.id, registered.user.id, 'me: the same user')
  t.equal(me.name, 'Ada', 'me: the name given at registration')
  const renamed = expectData(t, await client.api.PATCH('/v1/me', { body: { name: 'Ada Lovelace' } }), 'PATCH /v1/me')
  t.equal(renamed.name, 'Ada Lovelace', 'the new name')
  const claims = expectData(t, await client.api.GET('/v1/auth/whoami'), 'whoami')
  t.equal(claims.sub, me.id, 'whoami: sub is the user id')
  t.equal(claims.role, 'user', 'whoami: role')

  // A wrong current password is 403, not 401: the token is fine, and the wrapper must not refresh.
  const before = refreshes(log)
  expectProblem(t, await client.changePassword({ currentPassword: 'not the password at all', newPassword: NEW_PASSWORD }),
    403, 'ERR_WRONG_PASSWORD', 'password change with a wrong current password')
  const oldTokens = client.tokens()
  const changed = expectData(t, await client.changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }), 'password change')
  t.not(changed.refreshToken, oldTokens?.refreshToken, 'password change: fresh tokens')
  t.equal(client.tokens()?.refreshToken, changed.refreshToken, 'password change: the client keeps them')
  const stale = await client.api.POST('/v1/auth/refresh', { body: { refreshToken: oldTokens?.refreshToken ?? '' } })
  expectProblem(t, stale, 401, 'ERR_REFRESH_TOKEN_REVOKED', 'the refresh token from before the password change')
  expectProblem(t, await client.api.POST('/v1/auth/login', { body: { email, password: PASSWORD } }), 401, 'ERR_INVALID_CREDENTIALS', 'the old password')

  t.equal(await client.refresh(), true, 'refresh: ok')
  t.not(client.tokens()?.refreshToken, changed.refreshToken, 'refresh: the refresh token rotates')
  t.equal(refreshes(log), before + 2, 'no refresh but the stale one and the explicit one: a 403 is not a reason to refresh')

  // Not an admin: 403 with an insufficient_scope challenge, which is no reason to refresh either.
  const forbidden = await client.api.GET('/v1/users', { params: { query: { limit: 10 } } })
  expectProblem(t, forbidden, 403, 'ERR_FORBIDDEN', 'GET /v1/users as a user')
  t.match(forbidden.response.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/, '403: insufficient_scope')

  await devicesFlow(t, options, client)
  await adminFlow(t, { ...options, adminEmail, adminPassword, userId: me.id, client, ended })

  // Log out everywhere: 204, the local tokens are gone, and the last refresh token is refused.
  const last = client.tokens()
  t.same(await client.logoutAll(), { error: undefined }, 'logout-all: no problem')
  t.equal(client.tokens(), null, 'logout-all: the client forgot the tokens')
  const revoked = await client.api.POST('/v1/auth/refresh', { body: { refreshToken: last?.refreshToken ?? '' } })
  expectProblem(t, revoked, 401, 'ERR_REFRESH_TOKEN_REVOKED', 'refresh after logout-all')

  // Deleting one's own account needs the password.
  const doomed = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  expectData(t, await doomed.register({ email: `doomed-${email}`, password: PASSWORD }), 'register a second account')
  expectProblem(t, await doomed.api.DELETE('/v1/me', { body: { password: 'not the password at all' } }), 403, 'ERR_WRONG_PASSWORD', 'DELETE /v1/me with a wrong password')
  const deleted = await doomed.api.DELETE('/v1/me', { body: { password: PASSWORD } })
  t.equal(deleted.response.status, 204, 'DELETE /v1/me: 204')
  expectProblem(t, await doomed.api.GET('/v1/me'), 401, 'ERR_TOKEN_INVALID', 'the deleted account\'s token reads no account')
}

/**
 * Two more devices: the sessions list shows them, one is signed out from this one, one logs itself out; a refresh token
 * used twice (the server runs with REFRESH_REUSE_GRACE=0) ends its session with ERR_REFRESH_TOKEN_REUSED.
 */
async function devicesFlow (t: Checks, { baseUrl, email, log }: FlowOptions, client: TesseraClient): Promise<void> {
  const tabletEnded: Problem[] = []
  const tablet = createTesseraClient({ baseUrl, fetch: recordingFetch(log), onSessionEnded: (p) => tabletEnded.push(p) })
  const tabletSession = expectSignedIn(t, await tablet.login({ email, password: NEW_PASSWORD, deviceName: 'Tablet' }), 'login on a tablet')
  const phone = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  expectData(t, await phone.login({ email, password: NEW_PASSWORD, deviceName: 'Phone' }), 'login on a phone')

  const devices = expectData(t, await client.api.GET('/v1/me/sessions'), 'GET /v1/me/sessions')
  t.same(devices.items.slice(0, 2).map((s) => s.deviceName), ['Phone', 'Tablet'], 'the devices, most recent first')
  t.equal(devices.items.filter((s) => s.current).length, 1, 'one session is the caller\'s')

  const signedOut = await client.api.DELETE('/v1/me/sessions/{id}', { params: { path: { id: tabletSession.sessionId } } })
  t.equal(signedOut.response.status, 204, 'DELETE /v1/me/sessions/{id}: 204')
  t.equal(await tablet.refresh(), false, 'the tablet cannot refresh any more')
  t.same(tabletEnded.map((p) => p.code), ['ERR_REFRESH_TOKEN_REVOKED'], 'the tablet is told its session ended')
  expectProblem(t, await client.api.DELETE('/v1/me/sessions/{id}', { params: { path: { id: tabletSession.sessionId } } }),
    404, 'ERR_SESSION_NOT_FOUND', 'an ended session')

  // A copy of the phone's refresh token, used after the phone has refreshed: the session ends, for both holders.
  const copy = phone.tokens()?.refreshToken ?? ''
  t.equal(await phone.refresh(), true, 'the phone refreshes')
  expectProblem(t, await phone.api.POST('/v1/auth/refresh', { body: { refreshToken: copy } }), 401, 'ERR_REFRESH_TOKEN_REUSED', 'the copy, used again')
  t.equal(await phone.refresh(), false, 'the phone\'s own refresh token is refused too')

  const laptop = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  expectData(t, await laptop.login({ email, password: NEW_PASSWORD }), 'login on a laptop')
  const laptopRefresh = laptop.tokens()?.refreshToken ?? ''
  t.same(await laptop.logout(), { error: undefined }, 'POST /v1/auth/logout: this device only')
  t.equal(laptop.tokens(), null, 'logout: the client forgot the tokens')
  expectProblem(t, await laptop.api.POST('/v1/auth/refresh', { body: { refreshToken: laptopRefresh } }), 401, 'ERR_REFRESH_TOKEN_REVOKED', 'refresh after logout')
  t.ok(client.tokens() !== null && await client.refresh(), 'the first device is still signed in')
}

interface AdminFlowOptions extends FlowOptions {
  userId: string
  client: TesseraClient
  ended: Problem[]
}

/** An administrator created with the CLI pages through users, reads one, disables and re-enables it, deletes another. */
async function adminFlow (t: Checks, { baseUrl, email, adminEmail, adminPassword, log, userId, client, ended }: AdminFlowOptions): Promise<void> {
  const admin = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  const session = expectSignedIn(t, await admin.login({ email: adminEmail, password: adminPassword }), 'admin login')
  t.equal(session.user.role, 'admin', 'the CLI-created account is an admin')

  const first = expectData(t, await admin.api.GET('/v1/users', { params: { query: { limit: 1 } } }), 'GET /v1/users?limit=1')
  t.equal(first.items.length, 1, 'one user per page')
  t.type(first.nextCursor, 'string', 'a cursor to the next page')
  const seen = [...first.items]
  let cursor = first.nextCursor
  for (let pages = 0; cursor !== null && pages < 10; pages++) {
    const page = expectData(t, await admin.api.GET('/v1/users', { params: { query: { limit: 1, cursor } } }), `page ${pages + 2}`)
    seen.push(...page.items)
    cursor = page.nextCursor
  }
  t.equal(cursor, null, 'the last page has nextCursor null')
  t.ok(seen.some((u) => u.id === userId) && seen.some((u) => u.email === adminEmail), 'the pages hold both accounts')
  expectProblem(t, await admin.api.GET('/v1/users', { params: { query: { cursor: 'not-a-cursor' } } }), 400, 'ERR_VALIDATION', 'a cursor this API did not return')

  const one = expectData(t, await admin.api.GET('/v1/users/{id}', { params: { path: { id: userId } } }), 'GET /v1/users/{id}')
  t.equal(one.email, email, 'the user by id')
  expectProblem(t, await admin.api.GET('/v1/users/{id}', { params: { path: { id: 'no-such-user' } } }), 404, 'ERR_USER_NOT_FOUND', 'an unknown id')

  // Disabling revokes every session: the user's next refresh fails and the client reports the end of the session.
  const disabled = expectData(t, await admin.api.PATCH('/v1/users/{id}', { params: { path: { id: userId } }, body: { disabled: true } }), 'disable')
  t.equal(disabled.disabled, true, 'disabled')
  const saved = client.tokens()
  t.equal(await client.refresh(), false, 'the disabled user cannot refresh')
  t.same(ended.map((p) => p.code), ['ERR_ACCOUNT_DISABLED'], 'onSessionEnded: once, with the problem')
  t.equal(client.tokens(), null, 'the client dropped the tokens')
  expectProblem(t, await client.login({ email, password: NEW_PASSWORD }), 403, 'ERR_ACCOUNT_DISABLED', 'a disabled account cannot log in')

  const enabled = expectData(t, await admin.api.PATCH('/v1/users/{id}', { params: { path: { id: userId } }, body: { disabled: false } }), 'enable')
  t.equal(enabled.disabled, false, 'enabled again')
  const refused = await admin.api.POST('/v1/auth/refresh', { body: { refreshToken: saved?.refreshToken ?? '' } })
  expectProblem(t, refused, 401, 'ERR_REFRESH_TOKEN_REVOKED', 're-enabling does not bring old sessions back')
  expectData(t, await client.login({ email, password: NEW_PASSWORD }), 'log in again after re-enabling')

  const other = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  const victim = expectData(t, await other.register({ email: `deleted-${email}`, password: PASSWORD }), 'register an account to delete')
  const gone = await admin.api.DELETE('/v1/users/{id}', { params: { path: { id: victim.user.id } } })
  t.equal(gone.response.status, 204, 'DELETE /v1/users/{id}: 204')
  expectProblem(t, await admin.api.DELETE('/v1/users/{id}', { params: { path: { id: victim.user.id } } }), 404, 'ERR_USER_NOT_FOUND', 'deleted twice')
}

/** The state the refresh steps share: one client of a user on the server with 2-second access tokens. */
export interface RefreshSession {
  client: TesseraClient
  user: { id: string, email: string }
  /** What onTokens last received (a mobile app would write it to secure storage). */
  stored: () => Tokens | null
  ended: Problem[]
}

/** The refresh-and-retry wrapper against a server with ACCESS_TOKEN_TTL=2s: registration. */
export async function refreshSession (t: Checks, { baseUrl, email, log }: FlowOptions): Promise<RefreshSession> {
  let stored: Tokens | null = null
  const ended: Problem[] = []
  const client = createTesseraClient({
    baseUrl, fetch: recordingFetch(log), onTokens: (tokens) => { stored = tokens }, onSessionEnded: (p) => ended.push(p)
  })
  const session = expectData(t, await client.register({ email, password: PASSWORD }), 'register')
  t.equal(session.expiresIn, 2, 'the server issues 2-second access tokens')
  t.same(stored, client.tokens(), 'onTokens received the tokens')
  return { client, user: session.user, stored: () => stored, ended }
}

/** Three concurrent calls with an expired token: one refresh, three retries, three successes. */
export async function concurrentExpiry (t: Checks, { baseUrl, log }: FlowOptions, { client, user, stored }: RefreshSession): Promise<void> {
  await waitForExpiry(t, baseUrl, client.tokens())
  const expired = client.tokens()?.accessToken
  const from = log.length
  const [me, claims, renamed] = await Promise.all([
    client.api.GET('/v1/me'),
    client.api.GET('/v1/auth/whoami'),
    client.api.PATCH('/v1/me', { body: { name: 'Retried' } })
  ])
  t.equal(expectData(t, me, 'GET /v1/me after expiry').email, user.email, 'GET /v1/me: the user')
  t.equal(expectData(t, claims, 'whoami after expiry').sub, user.id, 'whoami: the user')
  t.equal(expectData(t, renamed, 'PATCH /v1/me after expiry (its body is sent again)').name, 'Retried', 'PATCH /v1/me: the new name')
  const exchanges = log.slice(from)
  t.equal(refreshes(exchanges), 1, 'exactly one refresh for three 401s')
  t.equal(exchanges.filter((e) => e.status === 401).length, 3, 'three 401s')
  t.equal(exchanges.length, 7, '3 requests, 1 refresh, 3 retries')
  t.not(client.tokens()?.accessToken, expired, 'a new access token')
  t.same(stored(), client.tokens(), 'onTokens saw the refreshed tokens')
}

/** An app restarted with only the stored refresh token refreshes before its first call, without collecting a 401. */
export async function restartWithStoredToken (t: Checks, { baseUrl, log }: FlowOptions, { user, stored }: RefreshSession): Promise<void> {
  const restarted = createTesseraClient({ baseUrl, fetch: recordingFetch(log), refreshToken: stored()?.refreshToken ?? '' })
  const from = log.length
  t.equal(expectData(t, await restarted.api.GET('/v1/me'), 'GET /v1/me').id, user.id, 'the same user')
  t.same(log.slice(from).map((e) => `${e.path} ${e.status}`), ['/v1/auth/refresh 200', '/v1/me 200'], 'refresh, then the call')
  t.same(await restarted.logoutAll(), { error: undefined }, 'that device logs out everywhere')
}

/** After logout-all on another device: the 401s share one failed refresh, and the session ends once. */
export async function sessionEnds (t: Checks, { baseUrl, log }: FlowOptions, { client, stored, ended }: RefreshSession): Promise<void> {
  await waitForExpiry(t, baseUrl, client.tokens())
  const from = log.length
  const answers = await Promise.all([client.api.GET('/v1/me'), client.api.GET('/v1/auth/whoami')])
  for (const answer of answers) expectProblem(t, answer, 401, 'ERR_TOKEN_EXPIRED', 'the original 401 comes back')
  t.equal(refreshes(log.slice(from)), 1, 'one refresh attempt')
  t.same(ended.map((p) => p.code), ['ERR_REFRESH_TOKEN_REVOKED'], 'onSessionEnded: once, with the refresh problem')
  t.equal(client.tokens(), null, 'the tokens are dropped')
  t.equal(stored(), null, 'onTokens(null): the stored refresh token is removed')
  const after = log.length
  expectProblem(t, await client.api.GET('/v1/me'), 401, 'ERR_AUTH_REQUIRED', 'no session: a bare 401')
  t.equal(refreshes(log.slice(after)), 0, 'and no refresh without a refresh token')
}

/**
 * DPoP through the example's fetch middleware, proofs made by panva's `dpop` package: the tokens come back bound, every
 * call (refresh included) works with the key, and the same tokens copied without it are refused.
 */
export async function dpopFlow (t: Checks, { baseUrl, email, log }: FlowOptions): Promise<void> {
  const { generateKeyPair, generateProof } = await import('dpop')
  const keyPair = await generateKeyPair('ES256')
  const client = createTesseraClient({
    baseUrl, fetch: recordingFetch(log), dpop: async (htm, htu, token) => await generateProof(keyPair, htu, htm, undefined, token)
  })
  const registered = expectData(t, await client.register({ email, password: PASSWORD }), 'register with a DPoP proof')
  t.equal(registered.tokenType, 'DPoP', 'register: tokenType DPoP')
  const me = expectData(t, await client.api.GET('/v1/me'), 'GET /v1/me with a proof')
  t.equal(me.id, registered.user.id, 'me: the same user')
  t.equal(await client.refresh(), true, 'refresh with a proof from the same key')
  expectData(t, await client.api.GET('/v1/auth/whoami'), 'whoami with the refreshed token')

  const copied = client.tokens()
  if (copied === null) throw new Error('no tokens')
  const asBearer = await fetch(`${baseUrl}/v1/me`, { headers: { authorization: `Bearer ${copied.accessToken}` } })
  t.equal(asBearer.status, 401, 'the copied access token as Bearer: 401')
  t.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP algs="/, 'with a DPoP challenge')
  const stolen = createTesseraClient({ baseUrl, refreshToken: copied.refreshToken })
  t.equal(await stolen.refresh(), false, 'the copied refresh token without the key: refused')
  expectData(t, await client.api.GET('/v1/me'), 'and the client that holds the key goes on')
}

/**
 * Two-factor sign-in through the generated types: enrol with codes from an outside authenticator, then log in, where
 * login's answer is the MfaChallenge side of the union, and finish with verifyMfa; a used code and token are refused.
 */
export async function mfaFlow (t: Checks, options: FlowOptions): Promise<void> {
  const { baseUrl, email, log, totp } = options
  if (totp === undefined) throw new Error('mfaFlow needs options.totp')
  const client = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  expectData(t, await client.register({ email, password: PASSWORD }), 'register')
  const { secret, otpauthUri } = expectData(t, await client.api.POST('/v1/me/mfa/totp', { body: { password: PASSWORD } }), 'enrol')
  t.ok(otpauthUri.startsWith('otpauth://totp/'), 'an otpauth URI for the QR code')
  const { recoveryCodes } = expectData(t, await client.api.POST('/v1/me/mfa/totp/confirm', { body: { code: totp(secret) } }), 'confirm')
  t.equal(recoveryCodes.length, 10, 'ten recovery codes')
  const me = expectData(t, await client.api.GET('/v1/me'), 'GET /v1/me')
  t.equal(me.mfaEnabled, true, 'mfaEnabled')

  const device = createTesseraClient({ baseUrl, fetch: recordingFetch(log) })
  const answer = expectData(t, await device.login({ email, password: PASSWORD }), 'login')
  if (!isMfaChallenge(answer)) {
    t.fail('login: tokens without a second factor')
    return
  }
  t.same(answer.methods, ['totp', 'recovery_code'], 'the challenge names the methods')
  t.equal(device.tokens(), null, 'a challenge is no session: the client keeps no tokens')
  // The confirming code used this step: the app's next one.
  const code = totp(secret, 1)
  const signedIn = expectData(t, await device.verifyMfa({ mfaToken: answer.mfaToken, code }), 'verifyMfa')
  t.equal(signedIn.user.mfaEnabled, true, 'verifyMfa: an AuthResult')
  t.ok(device.tokens() !== null, 'verifyMfa: the client keeps the tokens')
  const whoami = expectData(t, await device.api.GET('/v1/auth/whoami'), 'whoami')
  t.same(whoami.amr, ['pwd', 'otp'], 'amr after a second factor')
  expectProblem(t, await device.verifyMfa({ mfaToken: answer.mfaToken, code }), 401, 'ERR_MFA_TOKEN_INVALID', 'the same mfaToken again')

  const again = expectData(t, await device.login({ email, password: PASSWORD }), 'login again')
  if (!isMfaChallenge(again)) return
  expectProblem(t, await device.verifyMfa({ mfaToken: again.mfaToken, code }), 401, 'ERR_MFA_CODE_INVALID', 'the same code again')
  expectData(t, await device.verifyMfa({ mfaToken: again.mfaToken, recoveryCode: recoveryCodes[0] }), 'a recovery code')
}
