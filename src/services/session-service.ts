// Sessions: one per sign-in, a refresh is a compare-and-set on its counter (reuse detection, RFC 9700 §4.14.2), listed
// and ended by their owner or an administrator. Read at sign-in, refresh and logout only, never by the access-token check.
import { clientAddress } from '../lib/client-network'
import { PeriodicPurge } from '../lib/periodic-purge'
import { deviceLabel } from '../lib/device-label'
import { newSessionId } from '../lib/ids'
import { Errors } from '../errors'
import type { Metrics } from '../metrics/metrics'
import type { Revocations } from '../revocation/revocations'
import { type SessionEndReason, type SessionRecord, type UserRecord, type UserStore } from '../store/user-store'
import type { Clock } from '../clock'
import type { RefreshClaims } from '../tokens/claims'
import type { IssuedTokens, TokenIssuer } from '../tokens/token-issuer'
import type { SecurityEvents } from './security-events'

/** What the sign-in request tells about the device: the name the client chose, else its User-Agent, and its address. */
export interface SignInClient {
  deviceName?: string
  userAgent?: string
  ip?: string
  /** The thumbprint of the DPoP key the request proved it holds: the tokens issued are bound to it. */
  jkt?: string
}

/** A user and the tokens just issued to them: what register, login, refresh and a password change return. */
export interface SignedIn { user: UserRecord, tokens: IssuedTokens }

/** A session as its owner sees it in the devices list. */
export interface SessionView {
  id: string
  deviceName: string | null
  createdAt: string
  lastUsedAt: string
  expiresAt: string
  ip: string | null
  current: boolean
}

interface Log { warn (obj: object, msg: string): void }

export interface SessionServiceDeps {
  store: UserStore
  issuer: TokenIssuer
  clock: Clock
  /** SESSION_MAX_AGE, seconds from the login. */
  sessionMaxAge: number
  /** REFRESH_REUSE_GRACE, seconds; 0: a superseded refresh token always ends its session. */
  reuseGrace: number
  /** SESSIONS_PER_USER_MAX. */
  maxPerUser: number
  /** Seconds after which no token issued before now is still accepted (longestTokenLifetime): how long ended rows stay. */
  tokenLifetime: number
  /** REVOCATION_MODE=hybrid: ended sessions' access tokens are refused within seconds. */
  revocations?: Revocations
  log: Log
  /** tessera_sessions_ended_total; default nothing. */
  metrics?: Pick<Metrics, 'sessionsEnded'>
  /** Where sessions ended by their owner and refresh token reuse are recorded; default nowhere. */
  events?: SecurityEvents
}


const revoked = (detail = 'The session was logged out'): Error => Errors.invalidRefreshToken('ERR_REFRESH_TOKEN_REVOKED', detail)

export class SessionService {
  /**
   * Only rows that ended or expired a token lifetime ago go: no token of theirs can still be valid, so forgetting them
   * revives nothing.
   */
  private readonly purge: PeriodicPurge

  constructor (private readonly deps: SessionServiceDeps) {
    this.purge = new PeriodicPurge({
      // Ended and expired rows, at a sign-in or refresh, at most hourly per instance, in batches.
      clock: deps.clock,
      keepSeconds: deps.tokenLifetime,
      purge: async (before, batch) => await deps.store.purgeSessions(before, batch),
      log: deps.log,
      failure: 'could not purge past sessions; will retry'
    })
  }

  /** A sign-in (login, registration, or a refresh token from before sessions were recorded): a new session, counter 0. */
  async start (user: UserRecord, authTime: number, client: SignInClient, amr?: readonly string[]): Promise<SignedIn> {
    const session = await this.deps.store.createSession({
      id: newSessionId(),
      userId: user.id,
      authTime,
      expiresAt: new Date((authTime + this.deps.sessionMaxAge) * 1000),
      deviceName: client.deviceName ?? deviceLabel(client.userAgent),
      ip: client.ip === undefined ? null : clientAddress(client.ip)
    }, { maxPerUser: this.deps.maxPerUser })
    this.purge.maybeRun()
    return this.issue(user, session, client, amr)
  }

  /**
   * Exchange a refresh token whose user the caller has checked (exists, enabled, token version, maximum age). The
   * session's counter moves on only if it still equals the token's `ctr`, so of two uses of one token one rotates and
   * the other is stale: within REFRESH_REUSE_GRACE of the rotation (a lost answer retried, two tabs racing) it gets
   * tokens for the current counter; later, one of the token's holders is not the client, and the session ends.
   */
  async refresh (user: UserRecord, claims: RefreshClaims, client: SignInClient): Promise<SignedIn> {
    if (claims.sid === undefined || claims.ctr === undefined) return await this.adopt(user, claims, client)
    const now = this.deps.clock.now()
    const ip = client.ip === undefined ? null : clientAddress(client.ip)
    const result = await this.deps.store.rotateSession(claims.sid, claims.ctr, { ip, now: new Date(now) })
    switch (result.outcome) {
      case 'rotated':
        this.purge.maybeRun()
        return this.issue(user, result.session, client, claims.amr)
      case 'stale': {
        const session = result.session
        if (this.withinGrace(claims.ctr, session, now)) return this.issue(user, session, client, claims.amr)
        await this.endOne(session.userId, session.id, 'refresh_token_reused')
        await this.deps.events?.record(session.userId, 'refresh_token_reused', { client, sessionId: session.id, detail: 'session ended' })
        this.deps.log.warn({ userId: session.userId, sid: session.id }, 'a superseded refresh token was used again: session ended')
        throw Errors.refreshTokenReused()
      }
      case 'ended':
        throw revoked()
      case 'expired':
        throw Errors.invalidRefreshToken('ERR_SESSION_EXPIRED', 'The session reached its maximum age; log in again')
      case 'missing':
        // A session recorded once and gone since: purged, which waits until no token of it can be valid.
        throw revoked('The session no longer exists')
    }
  }

  /** The user's active sessions, most recently used first; `current` marks the one of the caller's token. */
  async list (userId: string, currentSid: string | undefined): Promise<SessionView[]> {
    const sessions = await this.deps.store.listActiveSessions(userId, new Date(this.deps.clock.now()))
    return sessions.map((s) => ({
      id: s.id,
      deviceName: s.deviceName,
      createdAt: s.createdAt.toISOString(),
      lastUsedAt: s.lastUsedAt.toISOString(),
      expiresAt: s.expiresAt.toISOString(),
      ip: s.lastIp ?? s.createdIp,
      current: s.id === currentSid
    }))
  }

  /** End one of the user's sessions (the devices list's "sign out"); 404 when it is unknown, another user's or ended. */
  async end (userId: string, sid: string, client?: SignInClient): Promise<void> {
    if (!await this.endOne(userId, sid, 'logout')) throw Errors.sessionNotFound()
    await this.deps.events?.record(userId, 'session_ended', { ...(client !== undefined ? { client } : {}), sessionId: sid, detail: 'logout' })
  }

  /**
   * POST /v1/auth/logout: end the session of this access token, in every mode. Its refresh tokens stop at once; the
   * access token is refused within seconds in hybrid mode, and lives out its TTL in stateless mode.
   */
  async logout (claims: { sub: string, sid?: string }, client?: SignInClient): Promise<void> {
    if (claims.sid === undefined) throw Errors.sessionlessToken()
    if (await this.endOne(claims.sub, claims.sid, 'logout')) {
      await this.deps.events?.record(claims.sub, 'session_ended', { ...(client !== undefined ? { client } : {}), sessionId: claims.sid, detail: 'logout' })
      return
    }
    if (this.deps.revocations === undefined) return
    // Hybrid mode issued sids before sessions had rows: record this one ended, so the hybrid check refuses it until purged.
    const expiresAt = new Date(this.deps.clock.now() + this.deps.tokenLifetime * 1000)
    await this.deps.store.recordEndedSession({ id: claims.sid, userId: claims.sub, expiresAt, reason: 'logout' })
    this.deps.revocations.sessionEnded(claims.sid)
  }

  /** POST /v1/auth/logout-others: every session of the user but the caller's. */
  async logoutOthers (claims: { sub: string, sid?: string }, client?: SignInClient): Promise<void> {
    if (claims.sid === undefined) throw Errors.sessionlessToken()
    await this.endAllBut(claims.sub, 'logout_others', claims.sid)
    await this.deps.events?.record(claims.sub, 'session_ended', { ...(client !== undefined ? { client } : {}), sessionId: claims.sid, detail: 'logout_others' })
  }

  /**
   * Sign the user out everywhere (logout-all, an administrator's DELETE of a user's sessions): the token version bump
   * refuses every refresh token, and in hybrid mode every access token, of the user; then the rows end. False when
   * there is no such user.
   */
  async endAll (userId: string, reason: SessionEndReason): Promise<boolean> {
    const user = await this.deps.store.update(userId, { bumpTokenVersion: true })
    if (user === null) return false
    this.deps.revocations?.userChanged(user.id, user.tokenVersion)
    await this.endAfterVersionBump(user.id, reason)
    return true
  }

  /**
   * End every session of a user whose token version the caller has just bumped (logout-all, password change or reset,
   * disabling, a role change): the version already refuses their tokens in hybrid mode, so only the rows change.
   */
  async endAfterVersionBump (userId: string, reason: SessionEndReason, options: { except?: string } = {}): Promise<void> {
    this.deps.metrics?.sessionsEnded(reason, await this.deps.store.endUserSessions(userId, reason, options))
  }

  /** End every other session of the user; in hybrid mode each one's access tokens are refused at once. */
  async endAllBut (userId: string, reason: SessionEndReason, except: string): Promise<void> {
    const others = this.deps.revocations === undefined ? [] : await this.deps.store.listActiveSessions(userId)
    this.deps.metrics?.sessionsEnded(reason, await this.deps.store.endUserSessions(userId, reason, { except }))
    for (const session of others) if (session.id !== except) this.deps.revocations?.sessionEnded(session.id)
  }

  /**
   * After a password change: the caller's session goes on with tokens for the new token version, at its current
   * counter. Without one (a token from before sessions were recorded, or a session ended meanwhile) a new one starts.
   */
  async continueOrStart (user: UserRecord, sid: string | undefined, client: SignInClient, amr?: readonly string[]): Promise<SignedIn> {
    const session = sid === undefined ? null : await this.deps.store.findSession(sid)
    const now = this.deps.clock.now()
    if (session !== null && session.userId === user.id && session.endedAt === null && session.expiresAt.getTime() > now) {
      return this.issue(user, session, client, amr)
    }
    // A new session was not opened with the caller's second factor: no `amr`.
    return await this.start(user, Math.floor(now / 1000), client)
  }

  private issue (user: UserRecord, session: SessionRecord, client: SignInClient, amr?: readonly string[]): SignedIn {
    return { user, tokens: this.deps.issuer.issue(user, { id: session.id, authTime: session.authTime, counter: session.counter }, { jkt: client.jkt, amr }) }
  }

  /** The token is the one superseded by the last rotation, and it was superseded at most REFRESH_REUSE_GRACE ago. */
  private withinGrace (ctr: number, session: SessionRecord, now: number): boolean {
    const grace = this.deps.reuseGrace * 1000
    return grace > 0 && ctr === session.counter - 1 && session.supersededAt !== null && now - session.supersededAt.getTime() <= grace
  }

  /** End one session of the user; in hybrid mode its access tokens are refused at once. False when there was none to end. */
  private async endOne (userId: string, sid: string, reason: SessionEndReason): Promise<boolean> {
    const ended = await this.deps.store.endSession(sid, reason, { userId })
    if (ended) {
      this.deps.revocations?.sessionEnded(sid)
      this.deps.metrics?.sessionsEnded(reason, 1)
    }
    return ended
  }

  /**
   * A refresh token from before sessions were recorded (no `ctr`): it starts a session, so an upgrade logs nobody out.
   * Such tokens cannot be told apart by counter; they expire within REFRESH_TOKEN_TTL of the upgrade. One whose sid
   * was logged out in hybrid mode has an ended row (migration 004), and stays refused.
   */
  private async adopt (user: UserRecord, claims: RefreshClaims, client: SignInClient): Promise<SignedIn> {
    if (claims.sid !== undefined) {
      const known = await this.deps.store.findSession(claims.sid)
      if (known !== null && known.endedAt !== null) throw revoked()
    }
    return await this.start(user, claims.auth_time, client)
  }
}
