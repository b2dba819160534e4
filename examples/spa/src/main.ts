// The SPA's screens: register, log in (and its second step), profile (with the name form), password change, two-factor
// sign-in, devices and recent security activity, log out. Plain DOM: every text goes through textContent, never
// innerHTML, so nothing Tessera or a user sends becomes markup. The QR code is an image the qrcode library draws from
// the otpauth:// URI.
import { toDataURL } from 'qrcode'
import { NetworkError, ProblemError, Session, type Claims, type Device, type SecondFactor, type SecurityEvent, type User } from './session'

type Screen = 'register' | 'login' | 'second-factor' | 'profile' | 'password' | 'mfa' | 'devices' | 'logout'
const SIGNED_OUT: Screen[] = ['login', 'register', 'second-factor']
const SIGNED_IN: Screen[] = ['profile', 'password', 'mfa', 'devices', 'logout']
/** Reached by a step of a flow, not by a tab. */
const TABLESS: Screen[] = ['second-factor']

function element<T extends HTMLElement> (selector: string): T {
  const found = document.querySelector<T>(selector)
  if (found === null) throw new Error(`index.html has no ${selector}`)
  return found
}

const tesseraUrl = element<HTMLMetaElement>('meta[name="tessera-url"]').content.replace(/\/$/, '')
const message = element<HTMLParagraphElement>('#message')
const status = element<HTMLParagraphElement>('#status')
const activity = element<HTMLOListElement>('#activity-log')

function log (text: string): void {
  const item = document.createElement('li')
  const time = document.createElement('time')
  time.textContent = new Date().toLocaleTimeString('en-GB')
  item.append(time, ' ', text)
  activity.prepend(item)
}

function say (text: string, kind: 'ok' | 'error' = 'ok'): void {
  message.textContent = text
  message.dataset.kind = kind
}

function sayError (err: unknown): void {
  if (err instanceof ProblemError) {
    const fields = err.problem.errors?.map((e) => `${e.path}: ${e.message}`).join('; ')
    say(`${err.problem.detail} (${err.problem.code})${fields === undefined ? '' : ` — ${fields}`}`, 'error')
  } else if (err instanceof NetworkError) {
    say(err.message, 'error')
  } else {
    say(`Unexpected error: ${String(err)}`, 'error')
  }
}

let user: User | null = null
let screen: Screen = 'login'
/** The challenge of a login waiting for its second factor: in memory only, and dropped once used. */
let pendingMfaToken: string | null = null

const session = new Session(tesseraUrl, {
  onChange: (next) => {
    const wasSignedIn = user !== null
    user = next
    if (next === null && wasSignedIn) show('login')
    renderStatus()
  },
  onLog: log
})

function show (next: Screen): void {
  screen = next
  const allowed = user === null ? SIGNED_OUT : SIGNED_IN
  if (!allowed.includes(screen)) screen = allowed[0]
  // The second step of login only while its challenge is waiting.
  if (screen === 'second-factor' && pendingMfaToken === null) screen = 'login'
  for (const name of [...SIGNED_OUT, ...SIGNED_IN]) {
    element(`#screen-${name}`).hidden = name !== screen
    if (TABLESS.includes(name)) continue
    const tab = element<HTMLButtonElement>(`#tab-${name}`)
    tab.hidden = !allowed.includes(name)
    tab.setAttribute('aria-current', String(name === screen))
  }
  if (screen === 'profile') void loadProfile()
  if (screen === 'devices') void loadDevices()
  if (screen === 'mfa') void loadMfa()
}

function renderStatus (): void {
  status.textContent = user === null
    ? 'Signed out'
    : `Signed in as ${user.email} · access token valid for ${session.secondsLeft()} s`
}

function fill (selector: string, text: string): void {
  element(selector).textContent = text
}

let profileLoads = 0

/** Two calls at once: after expiry both get a 401 and share one refresh. */
async function loadProfile (): Promise<void> {
  try {
    const [me, claims] = await Promise.all([
      session.request<User>('GET', '/v1/me'),
      session.request<Claims>('GET', '/v1/auth/whoami')
    ])
    fill('#profile-email', me.email)
    fill('#profile-name', me.name ?? '—')
    fill('#profile-role', me.role)
    fill('#profile-id', me.id)
    fill('#profile-created', new Date(me.createdAt).toLocaleString('en-GB'))
    fill('#profile-token', `${claims.jti}, expires ${new Date(claims.exp * 1000).toLocaleTimeString('en-GB')}`)
    // RFC 8176 amr: only sessions opened with a second factor carry it.
    fill('#profile-amr', claims.amr === undefined ? 'password' : claims.amr.join(' + '))
    element<HTMLInputElement>('#name-form input[name="name"]').value = me.name ?? ''
    profileLoads++
    element('#profile-loaded').textContent = `Loaded at ${new Date().toLocaleTimeString('en-GB')}`
    element('#screen-profile').dataset.loads = String(profileLoads)
  } catch (err) {
    sayError(err)
  }
}

let deviceLoads = 0

/** One row per signed-in device: its name, when it was last used and from where, and "Sign out" unless it is this tab. */
function deviceRow (device: Device): HTMLLIElement {
  const item = document.createElement('li')
  item.dataset.sessionId = device.id
  item.dataset.current = String(device.current)
  const name = document.createElement('strong')
  name.textContent = device.deviceName ?? 'Unknown device'
  const details = document.createElement('span')
  details.textContent = ` · last used ${new Date(device.lastUsedAt).toLocaleString('en-GB')}${device.ip === null ? '' : ` from ${device.ip}`}`
  item.append(name, details)
  if (device.current) {
    const here = document.createElement('em')
    here.textContent = ' · this device'
    item.append(here)
  } else {
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = 'Sign out'
    button.addEventListener('click', () => {
      button.disabled = true
      session.signOutDevice(device.id).then(async () => {
        log(`Signed out ${device.deviceName ?? 'a device'}`)
        say(`Signed out ${device.deviceName ?? 'the device'}: its next refresh fails`)
        await loadDevices()
      }, sayError)
    })
    item.append(' ', button)
  }
  return item
}

/** What each security event type means to the account's owner; an unknown (newer) type is shown as it comes. */
const EVENT_LABELS: Record<string, string> = {
  account_created: 'Account created',
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in',
  password_changed: 'Password changed',
  password_reset: 'Password reset by email',
  email_verified: 'Email address verified',
  refresh_token_reused: 'Session ended: a used refresh token came back',
  mfa_enabled: 'Two-factor authentication turned on',
  mfa_disabled: 'Two-factor authentication turned off',
  admin_role_changed: 'An administrator changed the role',
  admin_disabled: 'An administrator disabled the account',
  admin_enabled: 'An administrator enabled the account',
  admin_sessions_ended: 'An administrator signed the account out everywhere',
  admin_user_deleted: 'An administrator deleted the account',
  admin_mfa_reset: 'An administrator turned two-factor authentication off'
}
const SESSION_ENDED: Record<string, string> = { logout: 'Signed out', logout_others: 'Signed out other devices', logout_all: 'Signed out everywhere' }

/** One line per event: what, when, from where and which device. Text only: nothing from the server becomes markup. */
function securityEventRow (event: SecurityEvent): HTMLLIElement {
  const item = document.createElement('li')
  item.dataset.type = event.type
  const what = event.type === 'session_ended' ? SESSION_ENDED[event.detail ?? ''] ?? 'Session ended' : EVENT_LABELS[event.type] ?? event.type
  const name = document.createElement('strong')
  name.textContent = what
  const details = document.createElement('span')
  details.textContent = ` · ${new Date(event.createdAt).toLocaleString('en-GB')}${event.ip === null ? '' : ` from ${event.ip}`}` +
    `${event.deviceName === null ? '' : ` · ${event.deviceName}`}`
  item.append(name, details)
  return item
}

async function loadDevices (): Promise<void> {
  try {
    const [devices, events] = await Promise.all([session.devices(), session.securityEvents()])
    element('#security-events').replaceChildren(...events.map(securityEventRow))
    element('#devices-list').replaceChildren(...devices.map(deviceRow))
    deviceLoads++
    element('#screen-devices').dataset.loads = String(deviceLoads)
  } catch (err) {
    sayError(err)
  }
}

/** A form's fields by name; the forms submit through fetch, never to a URL (the CSP has form-action 'none'). */
function onSubmit (selector: string, handler: (fields: Record<string, string>) => Promise<void>, reset = true): void {
  const form = element<HTMLFormElement>(selector)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const fields: Record<string, string> = {}
    for (const [name, value] of new FormData(form)) fields[name] = String(value)
    const button = form.querySelector('button')
    if (button !== null) button.disabled = true
    handler(fields).then(() => { if (reset) form.reset() }, sayError).finally(() => { if (button !== null) button.disabled = false })
  })
}

onSubmit('#register-form', async ({ email, password, name }) => {
  const created = await session.register({ email, password, ...(name === '' ? {} : { name }) })
  log(`Registered and signed in as ${created.email}`)
  say(`Welcome, ${created.name ?? created.email}`)
  show('profile')
})

onSubmit('#login-form', async ({ email, password }) => {
  const answer = await session.login({ email, password })
  if ('mfaRequired' in answer) {
    pendingMfaToken = answer.mfaToken
    log('Password accepted: a second factor is required')
    say('Enter the code your authenticator app shows, or a recovery code')
    show('second-factor')
    return
  }
  log(`Signed in as ${answer.email}`)
  say(`Signed in as ${answer.email}`)
  show('profile')
})

/** The code field if filled, else the recovery-code field: one of the two factors. */
const factorOf = ({ code, recoveryCode }: Record<string, string>): SecondFactor =>
  (code ?? '').trim() !== '' ? { code: code.trim() } : { recoveryCode: recoveryCode ?? '' }

onSubmit('#mfa-login-form', async (fields) => {
  if (pendingMfaToken === null) {
    show('login')
    return
  }
  try {
    const signedIn = await session.verifyMfa(pendingMfaToken, factorOf(fields))
    pendingMfaToken = null
    log(`Signed in as ${signedIn.email} with a second factor`)
    say(`Signed in as ${signedIn.email}`)
    show('profile')
  } catch (err) {
    // A dead challenge (expired, used, too many attempts) cannot be retried: back to the password.
    if (err instanceof ProblemError && ['ERR_MFA_TOKEN_INVALID', 'ERR_RATE_LIMITED'].includes(err.problem.code)) {
      pendingMfaToken = null
      show('login')
    }
    throw err
  }
})

element('#mfa-login-cancel').addEventListener('click', () => {
  pendingMfaToken = null
  say('')
  show('login')
})

/** The two-factor screen: its state from GET /v1/me, the forms that apply to it. */
async function loadMfa (): Promise<void> {
  try {
    const me = await session.request<User>('GET', '/v1/me')
    element('#mfa-state').textContent = me.mfaEnabled ? 'On: signing in asks for a code from your authenticator app.' : 'Off.'
    element('#screen-mfa').dataset.enabled = String(me.mfaEnabled)
    element('#mfa-enrol-form').hidden = me.mfaEnabled
    element('#mfa-disable-form').hidden = !me.mfaEnabled
    if (me.mfaEnabled) element('#mfa-setup').hidden = true
  } catch (err) {
    sayError(err)
  }
}

onSubmit('#mfa-enrol-form', async ({ password }) => {
  const { secret, otpauthUri } = await session.enrolTotp(password)
  // The URI holds the secret: it becomes an image here and goes nowhere else.
  element<HTMLImageElement>('#mfa-qr').src = await toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 2, width: 220 })
  element('#mfa-secret').textContent = secret
  element('#mfa-setup').hidden = false
  element('#mfa-recovery').hidden = true
  log('Authenticator enrolment started: scan the QR code, then confirm with a code')
  say('Scan the QR code with your authenticator app (or type the secret), then enter the code it shows')
})

onSubmit('#mfa-confirm-form', async ({ code }) => {
  const codes = await session.confirmTotp(code.trim())
  element('#mfa-recovery-codes').replaceChildren(...codes.map((c) => {
    const item = document.createElement('li')
    item.textContent = c
    return item
  }))
  element('#mfa-setup').hidden = true
  element('#mfa-recovery').hidden = false
  log('Two-factor sign-in is on: every other session has ended')
  say('Two-factor sign-in is on. Save the recovery codes now: they are shown only this once.')
  await loadMfa()
})

onSubmit('#mfa-disable-form', async (fields) => {
  await session.disableMfa(factorOf(fields))
  element('#mfa-recovery').hidden = true
  log('Two-factor sign-in is off')
  say('Two-factor sign-in is off')
  await loadMfa()
})

onSubmit('#name-form', async ({ name }) => {
  const updated = await session.request<User>('PATCH', '/v1/me', { name: name === '' ? null : name })
  log(`Name saved: ${updated.name ?? '(none)'}`)
  say('Name saved')
  await loadProfile()
}, false)

onSubmit('#password-form', async ({ currentPassword, newPassword }) => {
  await session.changePassword({ currentPassword, newPassword })
  log('Password changed: every other session is revoked')
  say('Password changed. Other devices are signed out; this tab goes on with fresh tokens.')
})

element('#reload-profile').addEventListener('click', () => { void loadProfile() })
element('#logout-all').addEventListener('click', () => {
  session.logoutAll().then(() => say('Logged out everywhere'), sayError)
})
element('#logout').addEventListener('click', () => {
  session.logout().then(() => say('Logged out'), sayError)
})
element('#logout-others').addEventListener('click', () => {
  session.signOutOthers().then(async () => {
    log('Signed out every other device')
    say('Other devices are signed out')
    await loadDevices()
  }, sayError)
})
for (const name of [...SIGNED_OUT, ...SIGNED_IN].filter((n) => !TABLESS.includes(n))) {
  element(`#tab-${name}`).addEventListener('click', () => {
    say('')
    show(name)
  })
}

setInterval(renderStatus, 1000)
renderStatus()
void session.resume().then((resumed) => {
  show(resumed ? 'profile' : 'login')
  document.body.dataset.ready = 'true'
}, (err: unknown) => {
  sayError(err)
  show('login')
  document.body.dataset.ready = 'true'
})
