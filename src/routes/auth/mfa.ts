// POST /v1/auth/mfa/verify: the second step of login for an account with two-factor sign-in on.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import { AuthResultSchema } from '../../schemas/auth'
import { VerifyBodySchema } from '../../schemas/mfa'
import {
  bodyProblems, counted, ExampleProblems, noSecurity, problemResponse, rateLimited, tokenRequestBadRequest, tokenResponse, unavailable
} from '../../schemas/responses'
import type { MfaService } from '../../services/mfa-service'
import { signInClient } from '../sign-in-client'
import { authResult } from './index'

export interface MfaVerifyRoutesOptions { mfa: MfaService }

const mfaVerifyRoutes: FastifyPluginAsyncTypebox<MfaVerifyRoutesOptions> = async (app, { mfa }) => {
  app.post('/mfa/verify', {
    config: { rateLimitScope: 'mfa' },
    // The token first, so the limits can count per token and per account; only a string is looked at (validation,
    // which runs next, answers anything else).
    preValidation: async (request) => {
      const token = (request.body as { mfaToken?: unknown } | null | undefined)?.mfaToken
      if (typeof token === 'string') request.mfaClaims = await app.tokens.verify('mfa', token)
    },
    // A DPoP proof here binds the session's tokens to the client's key, as at login (DPOP=required: one must come).
    preHandler: app.dpopTokenRequest,
    schema: {
      operationId: 'verifyMfa',
      tags: ['auth'],
      summary: 'Second step of login: the mfaToken and a TOTP code (or a recovery code) for tokens',
      description: 'A TOTP code is accepted once, within one 30-second step either side of now; a recovery code once. An mfaToken ' +
        'works until one verify with it succeeds, for MFA_TOKEN_TTL (5 minutes by default), and dies when the account signs out ' +
        'everywhere or its password is reset. Attempts are limited per mfaToken (RATE_LIMIT_MFA_TOKEN) and per account ' +
        '(RATE_LIMIT_MFA_ACCOUNT). The access token carries `amr: ["pwd","otp"]` (RFC 8176), and so do those its refresh tokens get.',
      security: noSecurity(),
      body: VerifyBodySchema,
      response: {
        ...bodyProblems,
        ...counted({
          // A refused code comes after the limits (with RateLimit headers); a refused mfaToken before them (without).
          401: problemResponse('Wrong, expired or used code (ERR_MFA_CODE_INVALID), or the mfaToken is invalid, expired or used (ERR_MFA_TOKEN_INVALID)', [
            Problems.mfaCodeInvalid(), Problems.mfaTokenInvalid()
          ]),
          200: tokenResponse(AuthResultSchema, 'Tokens for a new session'),
          ...tokenRequestBadRequest('Invalid body: exactly one of `code` (6 digits) and `recoveryCode` with the mfaToken; or DPoP proof refused', [
            ExampleProblems.invalidBody, ExampleProblems.malformedJson
          ]),
          403: problemResponse('The account was disabled since the password step', [Problems.accountDisabled()]),
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    const body = request.body
    const factor = 'code' in body ? { code: body.code } : { recoveryCode: body.recoveryCode }
    const signedIn = await mfa.verify(request.mfaClaims!, factor, signInClient(request))
    return reply.header('cache-control', 'no-store').send(authResult(signedIn))
  })
}

export default mfaVerifyRoutes
