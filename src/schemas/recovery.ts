// Request and response schemas of password reset and email verification.
import { Type } from '@sinclair/typebox'
import { EmailSchema, passwordSchema } from './auth'

const LinkTokenSchema = Type.String({ minLength: 1, maxLength: 4096, description: 'The token from the emailed link (after #token=)' })

export const ForgotPasswordBodySchema = Type.Object({
  email: EmailSchema
}, { additionalProperties: false })

export const ResetPasswordBodySchema = Type.Object({
  token: LinkTokenSchema,
  newPassword: passwordSchema('Same policy as registration')
}, { additionalProperties: false })

export const VerifyEmailBodySchema = Type.Object({
  token: LinkTokenSchema
}, { additionalProperties: false })

/** The 202 of the routes that mail: the work goes on after the answer. */
export const AcceptedSchema = Type.Object({
  message: Type.String()
}, { $id: 'Accepted', title: 'Accepted' })
