// examples/spa in Debian's Chromium (playwright-core), served from one origin and talking to a real Tessera on
// another, so CORS is real. Every screen is used; with 3-second access tokens the page keeps working past expiry,
// first through its refresh timer, then (timers frozen, as in a sleeping laptop) through refresh-and-retry on a 401.
import { existsSync, mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { chromium, type Page, type Request, type Response } from 'playwright-core'
import t from 'tap'
import ts from 'typescript'
import { contentSecurityPolicy, createSpaHandler } from '../../examples/spa/server'
import { PASSWORD, REPO_ROOT, sleep, startTessera } from './client-helper'
import { NEW_PASSWORD } from '../support/passwords'
import { CHROMIUM_PATH, requireService } from '../support/services'
import { oathtool } from '../support/totp'

// Headless, no GPU, and nothing that reaches the network on its own (updates, sync, QUIC probes).
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts')
const STEP_TIMEOUT_MS = 10_000

async function listen (server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** What the page sent to Tessera, and what came back. */
interface Traffic { requests: Request[], responses: Response[] }
const refreshCalls = (traffic: Traffic, from = 0): number =>
  traffic.requests.slice(from).filter((r) => r.method() === 'POST' && r.url().endsWith('/v1/auth/refresh')).length
const invalidToken401s = async (traffic: Traffic, from = 0): Promise<number> => {
  let count = 0
  for (const r of traffic.responses.slice(from)) {
    if (r.status() === 401 && /error="invalid_token"/.test(await r.headerValue('www-authenticate') ?? '')) count++
  }
  return count
}

/** How often the profile has loaded (the page counts in data-loads; a time would not move with timers frozen). */
const profileLoads = async (page: Page): Promise<number> => Number(await page.getAttribute('#screen-profile', 'data-loads') ?? 0)
/** The page's Web Storage; a string expression, because this file is compiled without the DOM types. */
const storage = (page: Page) => page.evaluate('({ session: { ...sessionStorage }, local: { ...localStorage } })') as
  Promise<{ session: Record<string, string>, local: Record<string, string> }>
const activity = (page: Page) => page.locator('#activity-log li').allTextContents()
const jwtHeader = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>
const jwtClaims = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>

/**
 * In the page: a call to Tessera with this browser profile's own DPoP key, read from IndexedDB the way the SPA stores
 * it (tessera-dpop / keys / current; created if the profile has none), the proof made here rather than by the SPA.
 * A string, because this file is compiled without the DOM types. Answers the status and the problem code.
 */
const inPageCall = (page: Page, call: { url: string, method: string, authorization?: string, body?: unknown, ath?: string }) =>
  page.evaluate(`(async (call) => {
    const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
    const json = (v) => b64(new TextEncoder().encode(JSON.stringify(v)))
    const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
    const open = indexedDB.open('tessera-dpop', 1)
    open.onupgradeneeded = () => open.result.createObjectStore('keys')
    const db = await request(open)
    let key = await request(db.transaction('keys').objectStore('keys').get('current'))
    if (key === undefined) {
      key = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
      await request(db.transaction('keys', 'readwrite').objectStore('keys').put(key, 'current'))
    }
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', key.publicKey)
    const payload = { jti: crypto.randomUUID(), htm: call.method, htu: call.url, iat: Math.floor(Date.now() / 1000) }
    if (call.ath !== undefined) payload.ath = b64(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(call.ath)))
    const input = json({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }) + '.' + json(payload)
    const proof = input + '.' + b64(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(input)))
    const headers = { dpop: proof }
    if (call.authorization !== undefined) headers.authorization = call.authorization
    if (call.body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(call.url, { method: call.method, headers, body: call.body === undefined ? undefined : JSON.stringify(call.body) })
    const text = await res.text()
    return { status: res.status, code: text === '' ? null : JSON.parse(text).code, challenge: res.headers.get('www-authenticate') }
  })(${JSON.stringify(call)})`) as Promise<{ status: number, code: string | null, challenge: string | null }>

t.test('the SPA\'s browser code type-checks with examples/spa/tsconfig.json (DOM, no Node types)', async (t) => {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(REPO_ROOT, 'examples', 'spa', 'tsconfig.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) }
  })
  if (config === undefined) throw new Error('cannot read examples/spa/tsconfig.json')
  t.same(config.fileNames.map((f) => path.basename(f)).sort(), ['dpop.ts', 'main.ts', 'session.ts'], 'the three source files')
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => REPO_ROOT, getNewLine: () => '\n' }
  t.same(ts.getPreEmitDiagnostics(program).map((d) => ts.formatDiagnostic(d, host).trim()), [], 'no type error')
})

t.test('the SPA in Chromium, on another origin than Tessera', async (t) => {
  if (!await requireService(t, 'chromium')) return

  // The page server listens first: its origin is what Tessera's CORS_ORIGINS must allow.
  const pageServer = createServer()
  const spaOrigin = await listen(pageServer)
  t.teardown(() => new Promise<void>((resolve) => { pageServer.closeAllConnections(); pageServer.close(() => resolve()) }))
  const tessera = await startTessera(t, { CORS_ORIGINS: spaOrigin, ACCESS_TOKEN_TTL: '3s' })
  pageServer.on('request', await createSpaHandler({ tesseraUrl: tessera.baseUrl }))
  t.not(new URL(spaOrigin).origin, new URL(tessera.baseUrl).origin, 'two origins: the page and the API')

  await t.test('CORS and the page\'s own headers', async (t) => {
    const preflight = (origin: string) => fetch(`${tessera.baseUrl}/v1/me`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type,dpop' }
    })
    const allowed = await preflight(spaOrigin)
    t.equal(allowed.headers.get('access-control-allow-origin'), spaOrigin, 'Tessera allows the page\'s origin')
    t.match(allowed.headers.get('access-control-allow-headers') ?? '', /authorization/i, 'and the Authorization header')
    t.match(allowed.headers.get('access-control-allow-headers') ?? '', /dpop/i, 'and the DPoP header')
    const other = await preflight('http://127.0.0.1:1')
    t.equal(other.headers.get('access-control-allow-origin'), null, 'but no other origin')
    const exposed = await fetch(`${tessera.baseUrl}/v1/me`, { headers: { origin: spaOrigin } })
    t.match(exposed.headers.get('access-control-expose-headers') ?? '', /www-authenticate/i, 'the page may read WWW-Authenticate')

    const page = await fetch(spaOrigin)
    t.equal(page.status, 200, 'the page')
    t.equal(page.headers.get('content-security-policy'), contentSecurityPolicy(tessera.baseUrl), 'CSP: scripts from the page, requests to Tessera only')
    t.match(await page.text(), `<meta name="tessera-url" content="${tessera.baseUrl}">`, 'Tessera\'s URL is in the page')
  })

  const context = await chromium.launchPersistentContext(t.testdir(), {
    executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000, viewport: { width: 900, height: 1000 }
  })
  t.teardown(() => context.close())
  context.setDefaultTimeout(STEP_TIMEOUT_MS)
  const page = context.pages()[0] ?? await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (m) => {
    // Chromium logs each 4xx answer as "Failed to load resource"; the page expects those. Anything else is a fault.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of 4')) problems.push(`console: ${m.text()}`)
  })
  const traffic: Traffic = { requests: [], responses: [] }
  page.on('request', (r) => { if (r.url().startsWith(tessera.baseUrl)) traffic.requests.push(r) })
  page.on('response', (r) => { if (r.url().startsWith(tessera.baseUrl)) traffic.responses.push(r) })

  // Fake timers that run in real time until paused (the 401 step pauses them).
  await page.clock.install()
  await page.goto(spaOrigin)
  await page.waitForSelector('body[data-ready="true"]')
  const message = page.locator('#message')
  const email = 'ada@example.com'

  await t.test('signed out: a wrong login and a short password are shown with their codes', async (t) => {
    t.equal(await page.locator('#status').textContent(), 'Signed out')
    await page.fill('#login-form [name=email]', email)
    await page.fill('#login-form [name=password]', PASSWORD)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#message[data-kind="error"]')
    t.match(await message.textContent(), /\(ERR_INVALID_CREDENTIALS\)$/, 'unknown account: ERR_INVALID_CREDENTIALS')

    await page.click('#tab-register')
    t.ok(await page.isVisible('#screen-register'), 'the register screen')
    await page.fill('#register-form [name=email]', email)
    await page.fill('#register-form [name=password]', 'too short')
    await page.click('#register-form button[type=submit]')
    await page.waitForSelector('#message[data-kind="error"]')
    t.match(await message.textContent(), /\(ERR_PASSWORD_TOO_SHORT\) — \/password: /, 'the problem and its field')
  })

  await t.test('register: signed in, profile shown; the access token is in no storage', async (t) => {
    await page.fill('#register-form [name=email]', email)
    await page.fill('#register-form [name=name]', 'Ada')
    await page.fill('#register-form [name=password]', PASSWORD)
    await page.click('#register-form button[type=submit]')
    await page.waitForSelector('#profile-email:text("ada@example.com")')
    t.ok(await page.isVisible('#screen-profile'), 'the profile screen')
    t.equal(await page.textContent('#profile-name'), 'Ada', 'the name')
    t.equal(await page.textContent('#profile-role'), 'user', 'the role')
    t.match(await page.textContent('#profile-id'), /^[0-9a-z]{26}$/, 'the user id')
    t.match(await page.textContent('#status'), /^Signed in as ada@example\.com · access token valid for [0-3] s$/, 'the status line')

    const { session, local } = await storage(page)
    t.same(Object.keys(session), ['tessera.refreshToken'], 'sessionStorage holds the refresh token and nothing else')
    t.equal(jwtHeader(session['tessera.refreshToken']).typ, 'rt+jwt', 'it is a refresh token')
    t.match(jwtClaims(session['tessera.refreshToken']).cnf, { jkt: /^[A-Za-z0-9_-]{43}$/ }, 'bound to the page\'s DPoP key')
    const registered = traffic.responses.find((r) => r.url().endsWith('/v1/auth/register') && r.status() === 201)
    t.equal(((await registered?.json()) as { tokenType?: string } | undefined)?.tokenType, 'DPoP', 'tokenType DPoP: the SPA uses DPoP by default')
    t.same(await page.evaluate(`new Promise((resolve) => {
      const open = indexedDB.open('tessera-dpop', 1)
      open.onsuccess = () => {
        const get = open.result.transaction('keys').objectStore('keys').get('current')
        get.onsuccess = () => resolve({ type: get.result.privateKey.type, extractable: get.result.privateKey.extractable, alg: get.result.privateKey.algorithm.namedCurve })
      }
    })`), { type: 'private', extractable: false, alg: 'P-256' }, 'its private key lives in IndexedDB, non-extractable')
    t.same(local, {}, 'localStorage is empty')
    t.same(await context.cookies(), [], 'no cookies')
  })

  await t.test('edit the name', async (t) => {
    await page.fill('#name-form [name=name]', 'Ada Lovelace')
    await page.click('#name-form button[type=submit]')
    await page.waitForSelector('#profile-name:text("Ada Lovelace")')
    t.equal(await message.textContent(), 'Name saved')
  })

  await t.test('past expiry, the refresh timer (80 % of 3 s) keeps the token fresh: reload after 5 s, no 401', async (t) => {
    const from = { requests: traffic.requests.length, responses: traffic.responses.length }
    const before = await profileLoads(page)
    await sleep(5_000)
    await page.click('#reload-profile')
    await page.waitForSelector(`#screen-profile[data-loads="${before + 1}"]`)
    t.equal(await page.textContent('#profile-name'), 'Ada Lovelace', 'the profile reloaded')
    t.ok(refreshCalls(traffic, from.requests) >= 2, `the timer refreshed (${refreshCalls(traffic, from.requests)} times in 5 s)`)
    t.equal(await invalidToken401s(traffic, from.responses), 0, 'no request met an expired token')
    t.ok((await activity(page)).some((line) => line.endsWith('Access token refreshed before it expired (timer)')), 'the activity says so')
  })

  await t.test('timers frozen (a sleeping laptop): the 401 invalid_token is answered by one refresh and a retry', async (t) => {
    await page.clock.pauseAt(await page.evaluate(() => Date.now()) + 100)
    await sleep(4_000) // the access token expires on the server meanwhile
    const from = { requests: traffic.requests.length, responses: traffic.responses.length }
    const before = await profileLoads(page)
    await page.click('#reload-profile') // GET /v1/me and GET /v1/auth/whoami at once
    await page.waitForSelector(`#screen-profile[data-loads="${before + 1}"]`)
    t.equal(await page.textContent('#profile-email'), email, 'the profile reloaded')
    t.equal(await invalidToken401s(traffic, from.responses), 2, 'both calls met a 401 invalid_token')
    t.equal(refreshCalls(traffic, from.requests), 1, 'they shared one refresh')
    t.equal(traffic.requests.length - from.requests, 5, '2 calls, 1 refresh, 2 retries')
    t.ok((await activity(page)).some((line) => line.endsWith('Access token refreshed after a 401 invalid_token, request retried')), 'the activity says so')
    await page.clock.resume()
  })

  await t.test('change the password: a wrong current one is refused; then fresh tokens', async (t) => {
    await page.click('#tab-password')
    await page.fill('#password-form [name=currentPassword]', 'not the current password')
    await page.fill('#password-form [name=newPassword]', NEW_PASSWORD)
    await page.click('#password-form button[type=submit]')
    await page.waitForSelector('#message[data-kind="error"]')
    t.match(await message.textContent(), /\(ERR_WRONG_PASSWORD\)$/, '403 ERR_WRONG_PASSWORD')
    t.ok(await page.isVisible('#screen-password'), 'still signed in: a 403 is not a lost session')

    const before = (await storage(page)).session['tessera.refreshToken']
    await page.fill('#password-form [name=currentPassword]', PASSWORD)
    await page.fill('#password-form [name=newPassword]', NEW_PASSWORD)
    await page.click('#password-form button[type=submit]')
    await page.waitForSelector('#message[data-kind="ok"]')
    t.match(await message.textContent(), /^Password changed\./)
    const after = (await storage(page)).session['tessera.refreshToken']
    t.not(after, before, 'a new refresh token in sessionStorage')
    // Asked from the page, with its key: the token is bound to it, so only there can its revocation show.
    const old = await inPageCall(page, { url: `${tessera.baseUrl}/v1/auth/refresh`, method: 'POST', body: { refreshToken: before } })
    t.equal(old.code, 'ERR_REFRESH_TOKEN_REVOKED', 'the old one is revoked')
  })

  await t.test('reload the page: the tab resumes with the refresh token from sessionStorage', async (t) => {
    await page.reload()
    await page.waitForSelector('body[data-ready="true"]')
    await page.waitForSelector('#profile-email:text("ada@example.com")')
    t.ok(await page.isVisible('#screen-profile'), 'signed in after the reload')
    t.ok((await activity(page)).some((line) => line.endsWith('Session resumed with the refresh token from sessionStorage')), 'resumed')
  })

  await t.test('log out everywhere: signed out, sessionStorage empty, the refresh token revoked', async (t) => {
    const refreshToken = (await storage(page)).session['tessera.refreshToken']
    await page.click('#tab-logout')
    await page.click('#logout-all')
    await page.waitForSelector('#screen-login:visible')
    t.equal(await message.textContent(), 'Logged out everywhere')
    t.equal(await page.textContent('#status'), 'Signed out')
    t.same((await storage(page)).session, {}, 'sessionStorage is empty')
    const refused = await inPageCall(page, { url: `${tessera.baseUrl}/v1/auth/refresh`, method: 'POST', body: { refreshToken } })
    t.equal(refused.status, 401, 'the last refresh token is refused')
  })

  await t.test('log in with the new password; a screenshot of the profile', async (t) => {
    await page.fill('#login-form [name=email]', email)
    await page.fill('#login-form [name=password]', NEW_PASSWORD)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#profile-name:text("Ada Lovelace")')
    t.equal(await message.textContent(), `Signed in as ${email}`)
    mkdirSync(ARTIFACTS, { recursive: true })
    const file = path.join(ARTIFACTS, 'spa-profile.png')
    await page.screenshot({ path: file, fullPage: true })
    t.ok(existsSync(file), `screenshot: ${path.relative(REPO_ROOT, file)}`)
  })

  await t.test('DPoP: the access and refresh tokens copied into another browser context are refused there; the SPA goes on', async (t) => {
    const refreshToken = (await storage(page)).session['tessera.refreshToken']
    // The access token lives in the page's memory only: taken from the last request the page sent with it.
    const sent = traffic.requests.map((r) => r.headers().authorization).filter((a): a is string => a?.startsWith('DPoP ') === true)
    const accessToken = sent[sent.length - 1]?.slice(5) ?? ''
    t.match(jwtClaims(accessToken).cnf, { jkt: /^[A-Za-z0-9_-]{43}$/ }, 'the copied access token is bound')

    const thief = await chromium.launchPersistentContext(t.testdir(), { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 })
    t.teardown(() => thief.close())
    thief.setDefaultTimeout(STEP_TIMEOUT_MS)
    const other = thief.pages()[0] ?? await thief.newPage()
    other.on('pageerror', (err) => problems.push(`thief context, page error: ${err.message}`))
    await other.goto(spaOrigin)
    await other.waitForSelector('body[data-ready="true"]')

    const me = `${tessera.baseUrl}/v1/me`
    const withOwnKey = await inPageCall(other, { url: me, method: 'GET', authorization: `DPoP ${accessToken}`, ath: accessToken })
    t.equal(withOwnKey.status, 401, 'the access token with the other context\'s own key: 401')
    t.equal(withOwnKey.code, 'ERR_DPOP_PROOF_INVALID')
    t.match(withOwnKey.challenge, /^DPoP algs="[^"]+", error="invalid_dpop_proof"/, 'a DPoP challenge')
    const asBearer = await inPageCall(other, { url: me, method: 'GET', authorization: `Bearer ${accessToken}` })
    t.equal(asBearer.status, 401, 'the access token as Bearer: 401')
    const stolenRefresh = await inPageCall(other, { url: `${tessera.baseUrl}/v1/auth/refresh`, method: 'POST', body: { refreshToken } })
    t.equal(stolenRefresh.status, 400, 'the refresh token with the other context\'s key: 400')
    t.equal(stolenRefresh.code, 'ERR_DPOP_PROOF_INVALID')

    // The copied refresh token planted where the SPA looks for it: the page tries to resume and stays signed out.
    await other.evaluate(`sessionStorage.setItem('tessera.refreshToken', ${JSON.stringify(refreshToken)})`)
    await other.reload()
    await other.waitForSelector('body[data-ready="true"]')
    t.equal(await other.textContent('#status'), 'Signed out', 'the other context cannot resume the session')

    // The page is on its profile screen since the login above.
    const loads = await profileLoads(page)
    await page.click('#reload-profile')
    await page.waitForSelector(`#screen-profile[data-loads="${loads + 1}"]`)
    t.equal(await page.textContent('#profile-email'), email, 'the SPA that holds the key keeps working')
    t.equal(await page.textContent('#status').then((s) => s?.startsWith('Signed in as')), true, 'still signed in')
  })

  await t.test('devices, in two browser contexts: one signs the other out, whose next refresh fails and shows its login screen', async (t) => {
    const second = await chromium.launchPersistentContext(t.testdir(), {
      executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000
    })
    t.teardown(() => second.close())
    second.setDefaultTimeout(STEP_TIMEOUT_MS)
    const tablet = second.pages()[0] ?? await second.newPage()
    tablet.on('pageerror', (err) => problems.push(`second context, page error: ${err.message}`))
    const signIn = async (): Promise<void> => {
      await tablet.fill('#login-form [name=email]', email)
      await tablet.fill('#login-form [name=password]', NEW_PASSWORD)
      await tablet.click('#login-form button[type=submit]')
      await tablet.waitForSelector('#screen-profile:visible')
    }
    await tablet.goto(spaOrigin)
    await tablet.waitForSelector('body[data-ready="true"]')
    await signIn()

    await page.click('#tab-devices')
    await page.waitForSelector('#devices-list li:nth-child(2)')
    const rows = page.locator('#devices-list li')
    t.equal(await rows.count(), 2, 'two devices: this context and the other')
    t.equal(await page.locator('#devices-list li[data-current="true"]').count(), 1, 'one of them is this tab')
    t.match(await page.textContent('#devices-list li[data-current="true"]'), /^Chrome on Linux · last used .* from 127\.0\.0\.1 · this device$/,
      'named from the User-Agent, with its address')

    const loads = Number(await page.getAttribute('#screen-devices', 'data-loads'))
    await page.click('#devices-list li[data-current="false"] button')
    await page.waitForSelector(`#screen-devices[data-loads="${loads + 1}"]`)
    t.equal(await rows.count(), 1, 'only this device is left')
    t.match(await message.textContent(), /^Signed out Chrome on Linux/)
    // The tablet's refresh timer fires within 80 % of 3 s: the refresh is refused and the tab returns to its login screen.
    await tablet.waitForSelector('#screen-login:visible')
    t.equal(await tablet.textContent('#status'), 'Signed out', 'the signed-out device shows it')
    t.ok((await activity(tablet)).some((line) => line.endsWith('Session ended: ERR_REFRESH_TOKEN_REVOKED')), 'because its refresh was refused')
    t.same((await storage(tablet)).session, {}, 'and it dropped its refresh token')

    await signIn()
    await page.click('#tab-profile')
    await page.click('#tab-devices')
    await page.waitForSelector('#devices-list li:nth-child(2)')
    await page.click('#logout-others')
    await page.waitForSelector('#message:text("Other devices are signed out")')
    await tablet.waitForSelector('#screen-login:visible')
    t.pass('"Sign out other devices" signs the tablet out too')
    t.ok(await page.isVisible('#screen-devices'), 'this tab stays signed in')

    await page.waitForSelector('#security-events li[data-type="session_ended"]')
    const history = await page.locator('#security-events li').allTextContents()
    t.match(history[0], /^Signed out other devices · .* from 127\.0\.0\.1 · Chrome on Linux$/, '"Recent security activity": newest first')
    t.ok(history.some((line) => /^Signed in · .* from 127\.0\.0\.1 · Chrome on Linux$/.test(line)), 'the sign-ins, with address and device')
    t.ok(history.some((line) => line.startsWith('Password changed')), 'the password change')
    t.ok(history.some((line) => line.startsWith('Signed out ·')), 'the device signed out from the list')
    await page.screenshot({ path: path.join(ARTIFACTS, 'spa-security-activity.png'), fullPage: true })

    const refreshToken = (await storage(page)).session['tessera.refreshToken']
    await page.click('#tab-logout')
    await page.click('#logout')
    await page.waitForSelector('#screen-login:visible')
    t.equal(await message.textContent(), 'Logged out')
    const refused = await inPageCall(page, { url: `${tessera.baseUrl}/v1/auth/refresh`, method: 'POST', body: { refreshToken } })
    t.equal(refused.code, 'ERR_REFRESH_TOKEN_REVOKED', '"Log out" ended this session')
  })

  await t.test('two-factor sign-in: enrol from a QR code (and the secret as text), then log in with the password and a code', async (t) => {
    if (!await requireService(t, 'oathtool')) return
    await page.fill('#login-form [name=email]', email)
    await page.fill('#login-form [name=password]', NEW_PASSWORD)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#screen-profile:visible')
    t.equal(await page.textContent('#profile-amr'), 'password', 'a password-only session')
    await page.click('#tab-mfa')
    await page.waitForSelector('#screen-mfa[data-enabled="false"]')
    t.equal(await page.textContent('#mfa-state'), 'Off.')

    await page.fill('#mfa-enrol-form [name=password]', NEW_PASSWORD)
    await page.click('#mfa-enrol-form button[type=submit]')
    await page.waitForSelector('#mfa-setup:visible')
    const secret = await page.textContent('#mfa-secret') ?? ''
    t.match(secret, /^[A-Z2-7]{32}$/, 'the secret as text')
    t.match(await page.getAttribute('#mfa-qr', 'src'), /^data:image\/png;base64,/, 'the QR code: an image drawn in the page')
    await page.waitForFunction('document.querySelector("#mfa-qr").complete')
    t.ok(await page.evaluate('document.querySelector("#mfa-qr").naturalWidth') as number >= 200, 'a QR code an app can scan (at least 200 px)')

    const right = oathtool(secret, Date.now())
    await page.fill('#mfa-confirm-form [name=code]', right === '000000' ? '000001' : '000000')
    await page.click('#mfa-confirm-form button[type=submit]')
    await page.waitForSelector('#message[data-kind="error"]')
    t.match(await message.textContent(), /\(ERR_MFA_CODE_INVALID\)$/, 'a wrong code is refused')
    await page.fill('#mfa-confirm-form [name=code]', oathtool(secret, Date.now()))
    await page.click('#mfa-confirm-form button[type=submit]')
    await page.waitForSelector('#mfa-recovery:visible')
    t.equal(await page.locator('#mfa-recovery-codes li').count(), 10, 'ten recovery codes, shown once')
    await page.waitForSelector('#screen-mfa[data-enabled="true"]')
    t.notOk(JSON.stringify(await storage(page)).includes(secret), 'the secret is kept in no storage')

    await page.click('#tab-logout')
    await page.click('#logout')
    await page.waitForSelector('#screen-login:visible')
    await page.fill('#login-form [name=email]', email)
    await page.fill('#login-form [name=password]', NEW_PASSWORD)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#screen-second-factor:visible')
    t.equal(await page.textContent('#status'), 'Signed out', 'the password alone signs nobody in')
    t.same((await storage(page)).session, {}, 'and stores no token')
    // The confirming code used this step: the app's next code.
    await page.fill('#mfa-login-form [name=code]', oathtool(secret, Date.now() + 30_000))
    await page.click('#mfa-login-form button[type=submit]')
    await page.waitForSelector('#screen-profile:visible')
    await page.waitForSelector('#profile-amr:text("pwd + otp")')
    t.pass('signed in with the password and the code; the access token carries amr pwd + otp')
  })

  await t.test('the same page from an origin not in CORS_ORIGINS: the browser blocks the calls, the page says why', async (t) => {
    const stranger = createServer(await createSpaHandler({ tesseraUrl: tessera.baseUrl }))
    const strangerOrigin = await listen(stranger)
    t.teardown(() => new Promise<void>((resolve) => { stranger.closeAllConnections(); stranger.close(() => resolve()) }))
    const other = await context.newPage()
    t.teardown(() => other.close())
    await other.goto(strangerOrigin)
    await other.waitForSelector('body[data-ready="true"]')
    await other.fill('#login-form [name=email]', email)
    await other.fill('#login-form [name=password]', NEW_PASSWORD)
    await other.click('#login-form button[type=submit]')
    await other.waitForSelector('#message[data-kind="error"]')
    t.match(await other.textContent('#message'), /^Cannot reach Tessera at .*CORS_ORIGINS/, 'a network error that names CORS_ORIGINS')
    t.equal(await other.textContent('#status'), 'Signed out', 'not signed in')
  })

  t.same(problems, [], 'no script error, no CSP violation, no failed request other than the expected 4xx')
  t.ok(traffic.responses.every((r) => r.status() < 500), 'no 5xx')
  t.equal(tessera.stderr(), '', 'nothing on Tessera\'s stderr')
})
