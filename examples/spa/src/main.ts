// The SPA's screens: register, log in, profile (with the name form), password change, devices, log out.
// Plain DOM: every text goes through textContent, never innerHTML, so nothing Tessera or a user sends becomes markup.
import { NetworkError, ProblemError, Session, type Claims, type Device, type SecurityEvent, type User } from './session'

type Screen = 'register' | 'login' | 'profile' | 'password' | 'devices' | 'logout'
const SIGNED_OUT: Screen[] = ['login', 'register']
const SIGNED_IN: Screen[] = ['profile', 'password', 'devices', 'logout']

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
  for (const name of [...SIGNED_OUT, ...SIGNED_IN]) {
    element(`#screen-${name}`).hidden = name !== screen
    const tab = element<HTMLButtonElement>(`#tab-${name}`)
    tab.hidden = !allowed.includes(name)
    tab.setAttribute('aria-current', String(name === screen))
  }
  if (screen === 'profile') void loadProfile()
  if (screen === 'devices') void loadDevices()
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
  admin_user_deleted: 'An administrator deleted the account'
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
  const signedIn = await session.login({ email, password })
  log(`Signed in as ${signedIn.email}`)
  say(`Signed in as ${signedIn.email}`)
  show('profile')
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
for (const name of [...SIGNED_OUT, ...SIGNED_IN]) {
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
