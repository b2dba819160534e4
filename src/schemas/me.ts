// Request schemas of /v1/me: profile update, password change, account deletion.
import { Type } from '@sinclair/typebox'
import { NameSchema } from './user'
import { passwordSchema } from './auth'

export const UpdateMeBodySchema = Type.Object({
  name: Type.Union([NameSchema, Type.Null()])
}, { additionalProperties: false })

export const ChangePasswordBodySchema = Type.Object({
  currentPassword: passwordSchema(),
  newPassword: passwordSchema()
}, { additionalProperties: false })

export const DeleteMeBodySchema = Type.Object({
  password: passwordSchema()
}, { additionalProperties: false })
