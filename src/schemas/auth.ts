// Request and response schemas of /v1/auth: registration, login, refresh, whoami.
import { Type, type Static } from '@sinclair/typebox'
import { checksOwnUnicode } from '../lib/well-formed-input'
import { DeviceNameSchema } from './sessions'
import { NameSchema, RoleSchema, UserSchema } from './user'

/** 128 code points can take up to 256 UTF-16 units; the policy then counts code points exactly. */
export const PASSWORD_SCHEMA_MAX = 256

const EMAIL_DESCRIPTION = 'Trimmed, NFKC-normalised and lower-cased by the server, then it must be a "valid e-mail address" of ' +
  'the HTML standard (the grammar of <input type=email>): ASCII letters, digits and .!#$%&\'*+/=?^_`{|}~- before a single @, ' +
  'two or more dot-separated host-name labels after it; no spaces, commas, semicolons, quotes, parentheses or angle brackets. ' +
  'At most 64 characters before the @ and 254 in all'

/** The raw bounds leave room for surrounding spaces and fullwidth forms; the grammar is checked after normalising. */
export const EmailSchema = Type.String({ minLength: 3, maxLength: 320, description: EMAIL_DESCRIPTION })

/** A password field: the password policy, not the generic input check, answers ill-formed Unicode in it. */
export const passwordSchema = (description?: string) => checksOwnUnicode(Type.String({
  minLength: 1, maxLength: PASSWORD_SCHEMA_MAX, ...(description !== undefined ? { description } : {})
}))
export const PasswordSchema = passwordSchema()

export const RegisterBodySchema = Type.Object({
  email: EmailSchema,
  password: passwordSchema('At least PASSWORD_MIN_LENGTH (default 15) and at most 128 code points; not a common password'),
  name: Type.Optional(NameSchema),
  deviceName: Type.Optional(DeviceNameSchema)
}, { additionalProperties: false })
export type RegisterBody = Static<typeof RegisterBodySchema>

export const LoginBodySchema = Type.Object({
  // No lookup and the same 401 as a wrong password for an address outside the grammar: a 400 would say nothing
  // about accounts, but one answer for every bad credential keeps clients simple.
  email: Type.String({ minLength: 3, maxLength: 320, description: `${EMAIL_DESCRIPTION}. Login answers any other string with the same 401 as a wrong password` }),
  password: PasswordSchema,
  deviceName: Type.Optional(DeviceNameSchema)
}, { additionalProperties: false })
export type LoginBody = Static<typeof LoginBodySchema>

export const RefreshBodySchema = Type.Object({
  refreshToken: Type.String({ minLength: 1, maxLength: 4096 })
}, { additionalProperties: false })

export const AuthResultSchema = Type.Object({
  user: Type.Ref(UserSchema),
  tokenType: Type.Union([Type.Literal('Bearer'), Type.Literal('DPoP')], {
    description: 'DPoP when the request carried a valid DPoP proof (RFC 9449): both tokens are then bound to its key, and the access ' +
      'token is sent as `Authorization: DPoP <token>` with a fresh proof on every request. Bearer otherwise'
  }),
  accessToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  refreshToken: Type.String(),
  refreshExpiresIn: Type.Integer({ description: 'Seconds until the refresh token expires' }),
  sessionId: Type.String({ description: 'The session these tokens belong to (their `sid`), as GET /v1/me/sessions lists it' })
}, { $id: 'AuthResult', title: 'AuthResult' })

export const WhoamiSchema = Type.Object({
  sub: Type.String(),
  role: RoleSchema,
  iat: Type.Integer(),
  exp: Type.Integer(),
  jti: Type.String(),
  amr: Type.Optional(Type.Array(Type.String(), {
    description: 'RFC 8176 authentication methods: ["pwd","otp"] when the session was opened with a second factor; absent otherwise'
  }))
}, { title: 'Claims' })
