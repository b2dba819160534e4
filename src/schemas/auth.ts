// Request and response schemas of /v1/auth: registration, login, refresh, whoami.
import { Type, type Static } from '@sinclair/typebox'
import { NameSchema, RoleSchema, UserSchema } from './user'

/** 128 code points can take up to 256 UTF-16 units; the policy then counts code points exactly. */
export const PASSWORD_SCHEMA_MAX = 256

export const EmailSchema = Type.String({ minLength: 3, maxLength: 320, description: 'Trimmed, NFKC-normalised and lower-cased by the server' })
export const PasswordSchema = Type.String({ minLength: 1, maxLength: PASSWORD_SCHEMA_MAX })

export const RegisterBodySchema = Type.Object({
  email: EmailSchema,
  password: Type.String({ minLength: 1, maxLength: PASSWORD_SCHEMA_MAX, description: 'At least PASSWORD_MIN_LENGTH (default 15) and at most 128 code points; not a common password' }),
  name: Type.Optional(NameSchema)
}, { additionalProperties: false })
export type RegisterBody = Static<typeof RegisterBodySchema>

export const LoginBodySchema = Type.Object({
  email: EmailSchema,
  password: PasswordSchema
}, { additionalProperties: false })
export type LoginBody = Static<typeof LoginBodySchema>

export const RefreshBodySchema = Type.Object({
  refreshToken: Type.String({ minLength: 1, maxLength: 4096 })
}, { additionalProperties: false })

export const AuthResultSchema = Type.Object({
  user: Type.Ref(UserSchema),
  tokenType: Type.Literal('Bearer'),
  accessToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  refreshToken: Type.String(),
  refreshExpiresIn: Type.Integer({ description: 'Seconds until the refresh token expires' })
}, { $id: 'AuthResult', title: 'AuthResult' })

export const WhoamiSchema = Type.Object({
  sub: Type.String(),
  role: RoleSchema,
  iat: Type.Integer(),
  exp: Type.Integer(),
  jti: Type.String()
}, { title: 'Claims' })
