// The public User shape (never a password hash) and its mapping from a stored record.
import { Type, type Static } from '@sinclair/typebox'
import type { UserRecord } from '../store/user-store'

export const RoleSchema = Type.Union([Type.Literal('user'), Type.Literal('admin')])

export const UserSchema = Type.Object({
  id: Type.String({ description: 'Opaque id (UUIDv7)' }),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: RoleSchema,
  disabled: Type.Boolean(),
  emailVerified: Type.Boolean({ description: 'The owner proved control of the address (verification link or password reset)' }),
  mfaEnabled: Type.Boolean({ description: 'Two-factor sign-in (TOTP) is on: login asks for a code after the password' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}, { $id: 'User', title: 'User' })
export type User = Static<typeof UserSchema>

export const toUser = (r: UserRecord): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  disabled: r.disabled,
  emailVerified: r.emailVerified,
  mfaEnabled: r.mfaEnabled,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString()
})

/**
 * No C0 or C1 control character (NUL, ESC, tab, CR, LF, DEL, NEL…), line or paragraph separator, or bidi
 * embedding, override or isolate (U+202A–U+202E, U+2066–U+2069). A name is shown to people and written to
 * logs and admin screens: these forge lines, colour terminals or reverse text, and PostgreSQL refuses NUL.
 * The pattern is all BMP escapes, so it means the same with or without a regex `u` flag.
 */
export const NAME_PATTERN = '^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069]*$'

export const NameSchema = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: NAME_PATTERN,
  description: 'Display name; no control characters, line separators or bidi overrides'
})
