// Request and response schemas of the admin routes under /v1/users.
import { Type } from '@sinclair/typebox'
import { RoleSchema } from './user'

export const LIST_LIMIT_DEFAULT = 20

export const ListUsersQuerySchema = Type.Object({
  // Optional: the TypeBox validator does not fill in `default`, so the route applies it.
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: LIST_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }))
}, { additionalProperties: false })

export const UserListSchema = Type.Object({
  items: Type.Array(Type.Ref('User')),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' })
}, { title: 'UserList' })

export const UserIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 })
})

export const AdminPatchBodySchema = Type.Object({
  role: Type.Optional(RoleSchema),
  disabled: Type.Optional(Type.Boolean({ description: 'Disabling revokes every session of the user' }))
}, { additionalProperties: false, minProperties: 1 })
