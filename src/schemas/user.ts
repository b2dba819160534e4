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
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString()
})

export const NameSchema = Type.String({ minLength: 1, maxLength: 100 })
