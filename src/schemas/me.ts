// Request schemas of /v1/me: profile update, password change, account deletion.
import { Type } from '@sinclair/typebox'
import { NameSchema } from './user'
import { PASSWORD_SCHEMA_MAX } from './auth'

export const UpdateMeBodySchema = Type.Object({
  name: Type.Union([NameSchema, Type.Null()])
}, { additionalProperties: false })

export const ChangePasswordBodySchema = Type.Object({
  currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_SCHEMA_MAX }),
  newPassword: Type.String({ minLength: 1, maxLength: PASSWORD_SCHEMA_MAX })
}, { additionalProperties: false })

export const DeleteMeBodySchema = Type.Object({
  password: Type.String({ minLength: 1, maxLength: PASSWORD_SCHEMA_MAX })
}, { additionalProperties: false })
