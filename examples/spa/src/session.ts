// The session of the SPA: the access token in memory only, the refresh token in sessionStorage, a refresh timer at
// 80 % of the access token's lifetime, and one refresh-and-retry on a 401 `invalid_token` (shared by concurrent calls).
// Every request carries a DPoP proof (dpop.ts), so both tokens are bound to this browser's non-extractable key.
import { dpopProof } from './dpop'

export interface User {
  id: string
  email: string
  name: string | null
  role: 'user' | 'admin'
  disabled: boolean
  /** Two-factor sign-in is on: login asks for a code after the password. */
  mfaEnabled: boolean
  createdAt: string
  updatedAt: string
}

export interface AuthResult {
  user: User
  tokenType: 'Bearer' | 'DPoP'
  accessToken: string
  expiresIn: number
  refreshToken: string
  refreshExpiresIn: number
  sessionId: string
}

/** Login's answer when the account has two-factor sign-in on: no tokens yet, a short-lived mfaToken for the second step. */
export interface MfaChallenge {
  mfaRequired: true
  mfaToken: string
  expiresIn: number
  methods: Array<'totp' | 'recovery_code'>
}

/** A pending TOTP enrolment: the secret as text and the otpauth:// URI for the QR code. */
export interface Enrolment { secret: string, otpauthUri: string }

/** The second factor: the app's 6-digit code, or one of the recovery codes. */
export type SecondFactor = { code: string } | { recoveryCode: string }

/** One signed-in device of the user (GET /v1/me/sessions). */
export interface Device {
  id: string
  deviceName: string | null
  createdAt: string
  lastUsedAt: string
  expiresAt: string
  ip: string | null
  current: boolean
}

/** One entry of the account's security history (GET /v1/me/security-events). */
export interface SecurityEvent {
  id: string
  type: string
  createdAt: string
  ip: string | null
  deviceName: string | null
  sessionId: string | null
  actorId: string | null
  detail: string | null
}

export interface Claims { sub: string, role: string, iat: number, exp: number, jti: string, amr?: string[] }

/** RFC 9457 problem details, as Tessera sends them. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  errors?: Array<{ path: string, message: string }>
}

export class ProblemError extends Error {
  constructor (readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail} (${problem.code})`)
  }
}

/** fetch itself failed: Tessera is down, or it refused this origin (CORS_ORIGINS). */
export class NetworkError extends Error {}

/** sessionStorage, not localStorage: it is per tab and gone when the tab closes (see the README). */
export const REFRESH_TOKEN_KEY = 'tessera.refreshToken'
/** Refresh when 80 % of the access token's lifetime has passed: early enough for a slow network, late enough to be rare. */
export const REFRESH_AT = 0.8

export type RefreshReason = 'timer' | 'invalid_token' | 'resume'

export interface SessionEvents {
  /** Signed in or out (also when a refresh is refused and the session ends). */
  onChange: (user: User | null) => void
  /** One line for the activity list. */
  onLog: (message: string) => void
}

const REFRESH_MESSAGES: Record<RefreshReason, string> = {
  timer: 'Access token refreshed before it expired (timer)',
  invalid_token: 'Access token refreshed after a 401 invalid_token, request retried',
  resume: 'Session resumed with the refresh token from sessionStorage'
}

/** RFC 6750 §3: only this challenge asks for a new access token; other 401s (wrong password) do not. */
const isInvalidToken = (response: Response): boolean =>
  response.status === 401 && /\berror="invalid_token"/.test(response.headers.get('www-authenticate') ?? '')

export class Session {
  /** In memory only: a reload or a new tab gets a fresh one through the refresh token. */
  private accessToken: string | null = null
  /** DPoP when Tessera bound the tokens to our key (it does unless DPOP=off), Bearer otherwise. */
  private tokenType: AuthResult['tokenType'] = 'Bearer'
  private expiresAt = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The refresh in flight; every 401 meanwhile waits for it instead of starting another. */
  private refreshing: Promise<boolean> | null = null

  constructor (private readonly baseUrl: string, private readonly events: SessionEvents) {}

  /** Seconds the access token has left, by this page's clock. */
  secondsLeft (): number {
    return this.accessToken === null ? 0 : Math.max(0, Math.round((this.expiresAt - Date.now()) / 1000))
  }

  /** On page load: if this tab kept a refresh token, get an access token with it. */
  async resume (): Promise<boolean> {
    return sessionStorage.getItem(REFRESH_TOKEN_KEY) !== null && await this.refresh('resume')
  }

  async register (body: { email: string, password: string, name?: string }): Promise<User> {
    return this.start(await this.send<AuthResult>('POST', '/v1/auth/register', body, null))
  }

  /** Signed in, or (two-factor sign-in on) the challenge to answer with verifyMfa; the mfaToken is kept in memory only. */
  async login (body: { email: string, password: string }): Promise<User | MfaChallenge> {
    const answer = await this.send<AuthResult | MfaChallenge>('POST', '/v1/auth/login', body, null)
    return 'mfaRequired' in answer ? answer : this.start(answer)
  }

  /** The second step of login: the challenge's token and a code; the session starts here. */
  async verifyMfa (mfaToken: string, factor: SecondFactor): Promise<User> {
    return this.start(await this.send<AuthResult>('POST', '/v1/auth/mfa/verify', { mfaToken, ...factor }, null))
  }

  /** Start enrolling an authenticator app (the password again): a pending secret until confirmTotp. */
  async enrolTotp (password: string): Promise<Enrolment> {
    return await this.request<Enrolment>('POST', '/v1/me/mfa/totp', { password })
  }

  /** The app's first code turns two-factor sign-in on; the answer's recovery codes are shown once. */
  async confirmTotp (code: string): Promise<string[]> {
    return (await this.request<{ recoveryCodes: string[] }>('POST', '/v1/me/mfa/totp/confirm', { code })).recoveryCodes
  }

  async disableMfa (factor: SecondFactor): Promise<void> {
    await this.request<undefined>('DELETE', '/v1/me/mfa', factor)
  }

  /** Tessera revokes every other session and answers with fresh tokens for this one. */
  async changePassword (body: { currentPassword: string, newPassword: string }): Promise<User> {
    return this.start(await this.request<AuthResult>('PUT', '/v1/me/password', body))
  }

  /** This tab's session ends: its refresh token is refused from now on (its access token lives out its minutes). */
  async logout (): Promise<void> {
    await this.request<undefined>('POST', '/v1/auth/logout')
    this.clear()
    this.events.onLog('Logged out: this session has ended')
    this.events.onChange(null)
  }

  async logoutAll (): Promise<void> {
    await this.request<undefined>('POST', '/v1/auth/logout-all')
    this.clear()
    this.events.onLog('Logged out everywhere: every refresh token of this account is revoked')
    this.events.onChange(null)
  }

  /** The user's signed-in devices, most recently used first; `current` is this tab. */
  async devices (): Promise<Device[]> {
    return (await this.request<{ items: Device[] }>('GET', '/v1/me/sessions')).items
  }

  /** Sign one device out: its next refresh fails and sends it to its login screen. */
  /** The newest security events of the account. */
  async securityEvents (limit = 10): Promise<SecurityEvent[]> {
    return (await this.request<{ items: SecurityEvent[] }>('GET', `/v1/me/security-events?limit=${limit}`)).items
  }

  async signOutDevice (id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/v1/me/sessions/${encodeURIComponent(id)}`)
  }

  /** Every other device of the user is signed out; this tab goes on. */
  async signOutOthers (): Promise<void> {
    await this.request<undefined>('POST', '/v1/auth/logout-others')
  }

  /** A call with the access token; on a 401 invalid_token, one refresh (shared) and one retry. */
  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const used = this.accessToken
    let response = await this.fetch(method, path, body, used)
    if (isInvalidToken(response) && sessionStorage.getItem(REFRESH_TOKEN_KEY) !== null) {
      // Another call may have refreshed while this one was in flight: then only retry.
      if (this.accessToken === used) await this.refresh('invalid_token')
      if (this.accessToken !== null && this.accessToken !== used) response = await this.fetch(method, path, body, this.accessToken)
    }
    return this.parse<T>(response)
  }

  refresh (reason: RefreshReason): Promise<boolean> {
    this.refreshing ??= this.doRefresh(reason).finally(() => { this.refreshing = null })
    return this.refreshing
  }

  private async doRefresh (reason: RefreshReason): Promise<boolean> {
    const refreshToken = sessionStorage.getItem(REFRESH_TOKEN_KEY)
    if (refreshToken === null) return false
    try {
      this.start(await this.send<AuthResult>('POST', '/v1/auth/refresh', { refreshToken }, null))
      this.events.onLog(REFRESH_MESSAGES[reason])
      return true
    } catch (err) {
      if (err instanceof ProblemError && err.problem.status === 401) {
        // Ended (logged out, signed out from another device, logout-all, password change elsewhere), reused
        // (ERR_REFRESH_TOKEN_REUSED: a copy of the refresh token was used, so Tessera ended the session), expired, or
        // the account is disabled: sign out here too.
        this.clear()
        this.events.onLog(`Session ended: ${err.problem.code}`)
        this.events.onChange(null)
      } else {
        // Offline, 429 or 503: keep the refresh token; the next 401 tries again.
        this.events.onLog(`Refresh failed, will retry: ${err instanceof Error ? err.message : String(err)}`)
      }
      return false
    }
  }

  private start (result: AuthResult): User {
    this.accessToken = result.accessToken
    this.tokenType = result.tokenType
    this.expiresAt = Date.now() + result.expiresIn * 1000
    sessionStorage.setItem(REFRESH_TOKEN_KEY, result.refreshToken)
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.refresh('timer') }, result.expiresIn * 1000 * REFRESH_AT)
    this.events.onChange(result.user)
    return result.user
  }

  private clear (): void {
    clearTimeout(this.timer)
    this.accessToken = null
    this.expiresAt = 0
    sessionStorage.removeItem(REFRESH_TOKEN_KEY)
  }

  private async send<T> (method: string, path: string, body: unknown, token: string | null): Promise<T> {
    return this.parse<T>(await this.fetch(method, path, body, token))
  }

  private async fetch (method: string, path: string, body: unknown, token: string | null): Promise<Response> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (token !== null) headers.authorization = `${this.tokenType} ${token}`
    // A fresh proof per request, retries included: Tessera accepts each proof once.
    headers.dpop = await dpopProof(method, this.baseUrl + path, token === null || this.tokenType !== 'DPoP' ? undefined : token)
    try {
      return await fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch {
      throw new NetworkError(`Cannot reach Tessera at ${this.baseUrl} (is it running, with this page's origin in CORS_ORIGINS?)`)
    }
  }

  private async parse<T> (response: Response): Promise<T> {
    if (response.status === 204) return undefined as T
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new NetworkError(`Tessera answered ${response.status} without JSON`)
    }
    if (!response.ok) throw new ProblemError(json as Problem)
    return json as T
  }
}
