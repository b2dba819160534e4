// /v1/auth/password/* and /v1/auth/email/*: password reset and email verification by emailed links.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import { AcceptedSchema, ForgotPasswordBodySchema, ResetPasswordBodySchema, VerifyEmailBodySchema } from '../../schemas/recovery'
import {
  bearerProblems, bearerSecurity, bodyProblems, counted, ExampleProblems, jsonResponse, noContent, noSecurity, problemResponse, rateLimited,
  unavailable
} from '../../schemas/responses'
import type { AccountService } from '../../services/account-service'
import type { RecoveryService } from '../../services/recovery-service'
import type { UserRecord } from '../../store/user-store'
import { signInClient } from '../sign-in-client'

export interface RecoveryRoutesOptions { accounts: AccountService, recovery: RecoveryService }

/** One body for every address, known or not: the answer must not tell whether an account exists. */
const FORGOT_ANSWER = { message: 'If an account uses this address, a link to reset its password is on its way.' }
const RESEND_ANSWER = { message: 'A new verification link is on its way.' }

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in account, read before the mail limits: they count by its address (see rateLimitAddress). */
    mailAccount: UserRecord | null
  }
}

const recoveryRoutes: FastifyPluginAsyncTypebox<RecoveryRoutesOptions> = async (app, { accounts, recovery }) => {
  app.decorateRequest('mailAccount', null)

  app.post('/password/forgot', {
    config: { rateLimitScope: 'mail' },
    schema: {
      operationId: 'forgotPassword',
      tags: ['recovery'],
      summary: 'Mail a password reset link; the same 202 whether or not the address has an account',
      security: noSecurity(),
      body: ForgotPasswordBodySchema,
      response: {
        ...bodyProblems,
        // Body validation answers before the limits; the address check after them.
        ...counted({
          202: jsonResponse(AcceptedSchema, 'Accepted. A link is mailed only if an enabled account uses the address; sending happens after this answer'),
          400: bodyProblems[400],
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    await recovery.forgotPassword(request.body.email)
    return reply.code(202).send(FORGOT_ANSWER)
  })

  app.post('/password/reset', {
    schema: {
      operationId: 'resetPassword',
      tags: ['recovery'],
      summary: 'Set a new password with the token of a reset link; revokes every session',
      security: noSecurity(),
      body: ResetPasswordBodySchema,
      response: {
        204: noContent('Password changed; every refresh token of the user is revoked. Log in with the new password'),
        ...bodyProblems,
        400: problemResponse('Invalid body, password refused (ERR_PASSWORD_*), or reset link invalid, used or expired (ERR_RESET_TOKEN_INVALID, ERR_RESET_TOKEN_EXPIRED)', [
          ExampleProblems.invalidBody, ExampleProblems.malformedJson, Problems.invalidResetToken(), Problems.invalidResetToken(true),
          ...ExampleProblems.weakPasswords('/newPassword')
        ]),
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const claims = await app.tokens.verify('reset', request.body.token)
    await recovery.resetPassword(claims, request.body.newPassword, signInClient(request))
    return reply.code(204).send()
  })

  app.post('/email/verify', {
    schema: {
      operationId: 'verifyEmail',
      tags: ['recovery'],
      summary: 'Mark the email address verified with the token of a verification link (idempotent)',
      security: noSecurity(),
      body: VerifyEmailBodySchema,
      response: {
        204: noContent('The address is verified (also when it already was)'),
        ...bodyProblems,
        400: problemResponse('Invalid body, or verification link invalid or expired (ERR_VERIFY_TOKEN_INVALID, ERR_VERIFY_TOKEN_EXPIRED)', [
          ExampleProblems.invalidBody, ExampleProblems.malformedJson, Problems.invalidVerifyToken(), Problems.invalidVerifyToken(true)
        ]),
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const claims = await app.tokens.verify('verify', request.body.token)
    await recovery.verifyEmail(claims, signInClient(request))
    return reply.code(204).send()
  })

  app.post('/email/resend', {
    onRequest: app.authenticate,
    // Before the limits (a preHandler): they count by the account's address, as forgot-password does.
    preValidation: async (request) => {
      request.mailAccount = await accounts.me(request.auth!.sub)
    },
    config: { rateLimitScope: 'mail', rateLimitAddress: (request) => request.mailAccount?.email },
    schema: {
      operationId: 'resendVerificationEmail',
      tags: ['recovery'],
      summary: 'Mail a new verification link to the caller\'s address',
      security: bearerSecurity(),
      response: {
        ...bearerProblems,
        // Authentication and the account lookup answer before the limits; the account checks after them.
        ...counted({
          202: jsonResponse(AcceptedSchema, 'Accepted; sending happens after this answer'),
          403: problemResponse('Account disabled (ERR_ACCOUNT_DISABLED)', [Problems.accountDisabled()]),
          409: problemResponse('The address is already verified (ERR_EMAIL_ALREADY_VERIFIED)', [Problems.emailAlreadyVerified()]),
          ...rateLimited
        }),
        ...unavailable
      }
    }
  }, async (request, reply) => {
    recovery.resendVerification(request.mailAccount!)
    return reply.code(202).send(RESEND_ANSWER)
  })
}

export default recoveryRoutes
