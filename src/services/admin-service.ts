// Administration of other accounts (the /v1/users routes and the command line): the rules, independent of HTTP.
// No method signs anything, so administration needs no signing key.
import { Errors, type TesseraError } from '../errors'
import type { PasswordHasher } from '../lib/password-hasher'
import type { Revocations } from '../revocation/revocations'
import { EmailTakenError, LastAdminError, type Role, type UserRecord, type UserStore } from '../store/user-store'
import { acceptablePassword, requireEmail, requireName } from './account-rules'
import type { MfaService } from './mfa-service'
import type { SecurityEventPage, SecurityEvents } from './security-events'
import type { SessionService, SessionView, SignInClient } from './session-service'

export interface AdminServiceDeps {
  store: UserStore
  hasher: PasswordHasher
  passwordMinLength: number
  /** REVOCATION_MODE=hybrid: disabling, demoting or deleting a user reaches every instance at once. */
  revocations?: Revocations
  /** Disabling and role changes end the user's sessions. */
  sessions: SessionService
  /** Resets a user's two-factor sign-in (a lost device). */
  mfa: Pick<MfaService, 'reset'>
  /** Every change an administrator makes is recorded on the account, with the administrator; default nowhere. */
  events?: SecurityEvents
}

/** Who acts: the administrator's id and request (absent: the command line, recorded with actorId null). */
export interface Actor { id: string, client?: SignInClient }

export interface UserPage {
  users: UserRecord[]
  /** Pass back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null
}

/** Cursors are opaque to clients so the keyset (today: the last id) can change without breaking them. */
const encodeCursor = (id: string): string => Buffer.from(`id:${id}`).toString('base64url')
function decodeCursor (cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!decoded.startsWith('id:') || encodeCursor(decoded.slice(3)) !== cursor) throw invalidCursor()
  return decoded.slice(3)
}

export const invalidCursor = (): TesseraError =>
  Errors.validation([{ path: '/cursor', message: 'is not a cursor this API returned' }], 'Invalid cursor')

/** The last active administrator is kept: the store refuses, and the refusal is ours to name. */
async function keepingAnAdmin<T> (change: Promise<T>): Promise<T> {
  try {
    return await change
  } catch (err) {
    if (err instanceof LastAdminError) throw Errors.lastAdmin()
    throw err
  }
}

export class AdminService {
  constructor (private readonly deps: AdminServiceDeps) {}

  /** Hybrid mode: every instance refuses tokens older than the user's new version (null: the user is gone). */
  private publishRevocation (userId: string, version: number | null): void {
    this.deps.revocations?.userChanged(userId, version)
  }

  /**
   * The caller of an administration route, read from the store on every call: the role claim of an access token
   * outlives a demotion, disabling or deletion by up to its TTL, and must not let the old admin undo it. A deleted
   * account is answered as an invalid token, as on every other route.
   */
  async actingAdmin (userId: string): Promise<UserRecord> {
    const user = await this.deps.store.findById(userId)
    if (user === null) throw Errors.invalidToken('The account no longer exists')
    if (user.disabled) throw Errors.accountDisabled()
    if (user.role !== 'admin') throw Errors.roleRequired('admin')
    return user
  }

  /** Users in creation order, a page at a time (keyset pagination). */
  async listUsers (query: { limit: number, cursor?: string }): Promise<UserPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
    // One extra row tells whether another page exists without a COUNT.
    const rows = await this.deps.store.list({ limit: query.limit + 1, ...(after !== undefined ? { after } : {}) })
    const users = rows.slice(0, query.limit)
    return { users, nextCursor: rows.length > query.limit ? encodeCursor(users[users.length - 1].id) : null }
  }

  async getUser (id: string): Promise<UserRecord> {
    const user = await this.deps.store.findById(id)
    if (user === null) throw Errors.userNotFound()
    return user
  }

  /** The command line names users by address. */
  async getUserByEmail (raw: string): Promise<UserRecord> {
    const email = requireEmail(raw)
    const user = await this.deps.store.findByEmail(email)
    if (user === null) throw Errors.userNotFound(`No user has the email ${email}`)
    return user
  }

  /**
   * Disabling and role changes revoke every session of the user (a token version bump), so no token keeps a role
   * the account no longer has; the last active administrator cannot be demoted or disabled.
   */
  async updateUser (id: string, patch: { role?: Role, disabled?: boolean }, actor?: Actor): Promise<UserRecord> {
    const user = await this.getUser(id)
    const bump = (patch.disabled === true && !user.disabled) || (patch.role !== undefined && patch.role !== user.role)
    const updated = await keepingAnAdmin(this.deps.store.update(id, { ...patch, bumpTokenVersion: bump, keepActiveAdmin: true }))
    if (updated === null) throw Errors.userNotFound()
    if (bump) {
      this.publishRevocation(updated.id, updated.tokenVersion)
      await this.deps.sessions.endAfterVersionBump(updated.id, patch.disabled === true ? 'disabled' : 'admin')
    }
    if (updated.role !== user.role) await this.record(id, 'admin_role_changed', actor, `role ${updated.role}`)
    if (updated.disabled !== user.disabled) await this.record(id, updated.disabled ? 'admin_disabled' : 'admin_enabled', actor)
    return updated
  }

  /** A user's signed-in devices: active sessions, most recently used first. */
  async listSessions (id: string): Promise<SessionView[]> {
    await this.getUser(id)
    return await this.deps.sessions.list(id, undefined)
  }

  /** Sign a user out everywhere, as POST /v1/auth/logout-all does for oneself; the account stays enabled. */
  async endSessions (id: string, actor?: Actor): Promise<void> {
    if (!await this.deps.sessions.endAll(id, 'admin')) throw Errors.userNotFound()
    await this.record(id, 'admin_sessions_ended', actor)
  }

  /** A user's security events, newest first; as GET /v1/me/security-events gives its owner. */
  async listSecurityEvents (id: string, query: { limit: number, cursor?: string }): Promise<SecurityEventPage> {
    await this.getUser(id)
    if (this.deps.events === undefined) return { events: [], nextCursor: null }
    return await this.deps.events.list(id, query)
  }

  private async record (userId: string, type: 'admin_role_changed' | 'admin_disabled' | 'admin_enabled' | 'admin_sessions_ended' | 'admin_user_deleted' | 'admin_mfa_reset', actor: Actor | undefined, detail?: string): Promise<void> {
    await this.deps.events?.record(userId, type, {
      ...(actor?.client !== undefined ? { client: actor.client } : {}),
      actorId: actor?.id ?? null,
      detail: detail ?? (actor === undefined ? 'command line' : null)
    })
  }

  /**
   * Turn off a user's two-factor sign-in (the device is lost and so are the recovery codes): the secret and codes
   * are forgotten and every session of the user ends; the user signs in with the password alone and may enrol again.
   */
  async resetMfa (id: string, actor?: Actor): Promise<void> {
    await this.deps.mfa.reset(id)
    await this.record(id, 'admin_mfa_reset', actor)
  }

  /** The last active administrator cannot be deleted. */
  async deleteUser (id: string, actor?: Actor): Promise<void> {
    if (!await keepingAnAdmin(this.deps.store.delete(id, { keepActiveAdmin: true }))) throw Errors.userNotFound()
    this.publishRevocation(id, null)
    await this.record(id, 'admin_user_deleted', actor)
  }

  /**
   * Bootstraps an administrator from the command line. The operator vouches for the address, so the account
   * is created verified: REQUIRE_VERIFIED_EMAIL must not lock out the first administrator.
   */
  async createUser (input: { email: string, password: string, name?: string, role: Role }): Promise<UserRecord> {
    const email = requireEmail(input.email)
    const name = input.name === undefined ? null : requireName(input.name)
    const password = acceptablePassword(input.password, this.deps.passwordMinLength, '/password')
    const passwordHash = await this.deps.hasher.hash(password)
    try {
      return await this.deps.store.create({ email, name, role: input.role, passwordHash, emailVerified: true })
    } catch (err) {
      if (err instanceof EmailTakenError) throw Errors.emailTaken()
      throw err
    }
  }
}
