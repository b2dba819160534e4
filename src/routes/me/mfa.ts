// /v1/me/mfa: the caller's two-factor sign-in (enrol, confirm, new recovery codes, turn off). Registered inside
// /v1/me (Bearer, no-store).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Problems } from '../../lib/problem'
import { CodeBodySchema, EnrolBodySchema, EnrolmentSchema, RecoveryCodesSchema, SecondFactorBodySchema } from '../../schemas/mfa'
import {
  bearerBodyProblems, bearerSecurity, bearerUnauthorized, counted, jsonResponse, noContent, personal, problemResponse, rateLimited, unavailable
} from '../../schemas/responses'
import type { MfaService } from '../../services/mfa-service'
import { signInClient } from '../sign-in-client'

export interface MeMfaRoutesOptions { mfa: MfaService }

const codeInvalid = bearerUnauthorized(
  'Missing, invalid or expired access token (with an invalid_token challenge); or the code is wrong, expired or already used ' +
  '(ERR_MFA_CODE_INVALID, without a challenge: the access token is fine)', [Problems.mfaCodeInvalid()])
const ENDS_OTHERS = 'Every other session of the user ends (its refresh tokens are refused at once); this one goes on.'

const meMfaRoutes: FastifyPluginAsyncTypebox<MeMfaRoutesOptions> = async (app, { mfa }) => {
  const caller = (request: FastifyRequest) => ({ ...(request.auth!.sid === undefined ? {} : { sid: request.auth!.sid }), client: signInClient(request) })

  // Shares the password change's counters: it answers whether a guessed password is right.
  app.post('/mfa/totp', {
    config: { rateLimitScope: 'password-check' },
    schema: {
      operationId: 'enrolTotp',
      tags: ['me'],
      summary: 'Start enrolling an authenticator app: a new TOTP secret, pending until confirmed',
      description: 'Show `otpauthUri` as a QR code (and `secret` as text), then confirm with the first code at POST ' +
        '/v1/me/mfa/totp/confirm. A new enrolment replaces a pending one. SHA-1, 6 digits, 30 seconds: what every app reads.',
      security: bearerSecurity(),
      body: EnrolBodySchema,
      response: personal({
        ...bearerBodyProblems,
        ...counted({
          201: jsonResponse(EnrolmentSchema, 'The pending secret'),
          403: problemResponse('The password given is not the current one', [Problems.wrongPassword()]),
          409: problemResponse('Two-factor sign-in is already on (turn it off first)', [Problems.mfaAlreadyEnabled()]),
          ...rateLimited,
          ...unavailable
        })
      })
    }
  }, async (request, reply) => {
    return reply.code(201).send(await mfa.enrol(request.auth!.sub, request.body.password))
  })

  app.post('/mfa/totp/confirm', {
    config: { rateLimitScope: 'mfa' },
    schema: {
      operationId: 'confirmTotp',
      tags: ['me'],
      summary: 'Confirm the enrolment with the app\'s first code: two-factor sign-in is on, and ten recovery codes are shown once',
      description: ENDS_OTHERS,
      security: bearerSecurity(),
      body: CodeBodySchema,
      response: personal({
        ...bearerBodyProblems,
        ...counted({
          200: jsonResponse(RecoveryCodesSchema, 'Two-factor sign-in is on; store these codes somewhere safe'),
          ...codeInvalid,
          409: problemResponse('Already on, or no enrolment pending', [Problems.mfaAlreadyEnabled(), Problems.mfaNotPending()]),
          ...rateLimited,
          ...unavailable
        })
      })
    }
  }, async (request) => {
    return { recoveryCodes: await mfa.confirm(request.auth!.sub, request.body.code, caller(request)) }
  })

  app.post('/mfa/recovery-codes', {
    config: { rateLimitScope: 'mfa' },
    schema: {
      operationId: 'regenerateRecoveryCodes',
      tags: ['me'],
      summary: 'Ten new recovery codes for a current TOTP code; the old ones stop working',
      security: bearerSecurity(),
      body: CodeBodySchema,
      response: personal({
        ...bearerBodyProblems,
        ...counted({
          200: jsonResponse(RecoveryCodesSchema, 'The new codes, shown this once'),
          ...codeInvalid,
          409: problemResponse('Two-factor sign-in is not on', [Problems.mfaNotEnabled()]),
          ...rateLimited,
          ...unavailable
        })
      })
    }
  }, async (request) => {
    return { recoveryCodes: await mfa.regenerateRecoveryCodes(request.auth!.sub, request.body.code) }
  })

  app.delete('/mfa', {
    config: { rateLimitScope: 'mfa' },
    schema: {
      operationId: 'disableMfa',
      tags: ['me'],
      summary: 'Turn two-factor sign-in off with a current TOTP code or a recovery code',
      description: 'The secret and the recovery codes are forgotten. ' + ENDS_OTHERS,
      security: bearerSecurity(),
      body: SecondFactorBodySchema,
      response: personal({
        ...bearerBodyProblems,
        ...counted({
          204: noContent('Two-factor sign-in is off'),
          ...codeInvalid,
          409: problemResponse('Two-factor sign-in is not on', [Problems.mfaNotEnabled()]),
          ...rateLimited,
          ...unavailable
        })
      })
    }
  }, async (request, reply) => {
    await mfa.disable(request.auth!.sub, request.body, caller(request))
    return reply.code(204).send()
  })
}

export default meMfaRoutes
