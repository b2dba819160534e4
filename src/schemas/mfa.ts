// Request and response schemas of two-factor sign-in: enrolment, recovery codes, the second login step.
import { Type, type Static } from '@sinclair/typebox'
import { passwordSchema } from './auth'

export const TotpCodeSchema = Type.String({
  minLength: 6, maxLength: 6, pattern: '^[0-9]{6}$', description: 'The 6-digit code the authenticator app shows now (TOTP, RFC 6238)'
})
export const RecoveryCodeSchema = Type.String({
  minLength: 1, maxLength: 64, description: 'One of the recovery codes, as shown (XXXX-XXXX-XXXX-XXXX); case, spaces and hyphens do not matter'
})
const MfaTokenSchema = Type.String({ minLength: 1, maxLength: 4096, description: 'The mfaToken POST /v1/auth/login answered with' })

export const EnrolBodySchema = Type.Object({
  password: passwordSchema('The current password: a stolen access token alone cannot bind another device')
}, { additionalProperties: false })

export const EnrolmentSchema = Type.Object({
  secret: Type.String({ description: 'The TOTP secret in base32, for typing into an app that cannot scan (shown once)' }),
  otpauthUri: Type.String({ description: 'otpauth://totp/… (SHA-1, 6 digits, 30 s): render it as a QR code for the app to scan' })
}, { title: 'MfaEnrolment' })

export const CodeBodySchema = Type.Object({ code: TotpCodeSchema }, { additionalProperties: false })

export const RecoveryCodesSchema = Type.Object({
  recoveryCodes: Type.Array(Type.String(), {
    minItems: 10, maxItems: 10, description: 'Ten single-use codes, shown this once: each signs in once instead of a TOTP code'
  })
}, { title: 'RecoveryCodes' })

/** `{ code }` or `{ recoveryCode }`: exactly one factor. */
export const SecondFactorBodySchema = Type.Union([
  Type.Object({ code: TotpCodeSchema }, { additionalProperties: false }),
  Type.Object({ recoveryCode: RecoveryCodeSchema }, { additionalProperties: false })
])

export const VerifyBodySchema = Type.Union([
  Type.Object({ mfaToken: MfaTokenSchema, code: TotpCodeSchema }, { additionalProperties: false }),
  Type.Object({ mfaToken: MfaTokenSchema, recoveryCode: RecoveryCodeSchema }, { additionalProperties: false })
])
export type VerifyBody = Static<typeof VerifyBodySchema>

export const MfaChallengeSchema = Type.Object({
  mfaRequired: Type.Literal(true, { description: 'Always true: tells this answer apart from AuthResult' }),
  mfaToken: Type.String({ description: 'Send it with a code to POST /v1/auth/mfa/verify; it works once, for MFA_TOKEN_TTL' }),
  expiresIn: Type.Integer({ description: 'Seconds until the mfaToken expires' }),
  methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code')]), { description: 'The second factors accepted' })
}, { $id: 'MfaChallenge', title: 'MfaChallenge' })

/** Login's 200: tokens, or (two-factor sign-in on) the challenge; `mfaRequired` tells them apart. */
export const LoginResultSchema = Type.Union([Type.Ref('AuthResult'), Type.Ref('MfaChallenge')], {
  description: 'AuthResult, or MfaChallenge when the account has two-factor sign-in on (it has `mfaRequired: true`)'
})
