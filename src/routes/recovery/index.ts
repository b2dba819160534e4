// /v1/auth/password/* and /v1/auth/email/*: password reset and email verification by emailed links.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AcceptedSchema, ForgotPasswordBodySchema, ResetPasswordBodySchema, VerifyEmailBodySchema } from '../../schemas/recovery'
import {
  bearerProblems, bearerSecurity, bodyProblems, jsonResponse, noContent, problemResponse, rateLimited, unavailable
} from '../../schemas/responses'
import type { AccountService } from '../../services/account-service'
import type { RecoveryService } from '../../services/recovery-service'
import type { UserRecord } from '../../store/user-store'

export interface RecoveryRoutesOptions { accounts: AccountService, recovery: RecoveryService }

/** One body for every address, known or not: the answer must not tell whether an account exists. */
const FORGOT_ANSWER = { message: 'If an account uses this address, a link to reset its password is on its way.' }
const RESEND_ANSWER = { message: 'A new verification link is on its way.' }

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in account, read before the mail limits so they can count by its address. */
    mailAccount: UserRecord | null
  }
}

const recoveryRoutes: FastifyPluginAsyncTypebox<RecoveryRoutesOptions> = async (app, { accounts, recovery }) => {
  app.decorateRequest('mailAccount', null)
  app.decorateRequest('mailAddress', null)

  app.post('/password/forgot', {
    config: { rateLimitScope: 'mail' },
    schema: {
      tags: ['recovery'],
      summary: 'Mail a password reset link; the same 202 whether or not the address has an account',
      body: ForgotPasswordBodySchema,
      response: {
        202: jsonResponse(AcceptedSchema, 'Accepted. A link is mailed only if an enabled account uses the address; sending happens after this answer'),
        ...bodyProblems,
        ...rateLimited,
        ...unavailable
      }
    }
  }, async (request, reply) => {
    await recovery.forgotPassword(request.body.email)
    return reply.code(202).send(FORGOT_ANSWER)
  })

  app.post('/password/reset', {
    schema: {
      tags: ['recovery'],
      summary: 'Set a new password with the token of a reset link; revokes every session',
      body: ResetPasswordBodySchema,
      response: {
        204: noContent('Password changed; every refresh token of the user is revoked. Log in with the new password'),
        ...bodyProblems,
        400: problemResponse('Invalid body, password refused (ERR_PASSWORD_*), or reset link invalid, used or expired (ERR_RESET_TOKEN_INVALID, ERR_RESET_TOKEN_EXPIRED)'),
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const claims = await app.verifyLinkToken(request, 'reset', request.body.token)
    await recovery.resetPassword(claims, request.body.newPassword)
    return reply.code(204).send()
  })

  app.post('/email/verify', {
    schema: {
      tags: ['recovery'],
      summary: 'Mark the email address verified with the token of a verification link (idempotent)',
      body: VerifyEmailBodySchema,
      response: {
        204: noContent('The address is verified (also when it already was)'),
        ...bodyProblems,
        400: problemResponse('Invalid body, or verification link invalid or expired (ERR_VERIFY_TOKEN_INVALID, ERR_VERIFY_TOKEN_EXPIRED)'),
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const claims = await app.verifyLinkToken(request, 'verify', request.body.token)
    await recovery.verifyEmail(claims)
    return reply.code(204).send()
  })

  app.post('/email/resend', {
    onRequest: app.authenticate,
    // Before the limits (a preHandler): they count by the account's address, as forgot-password does.
    preValidation: async (request) => {
      const user = await accounts.existing(accounts.store.findById(request.auth!.sub))
      request.mailAccount = user
      request.mailAddress = user.email
    },
    config: { rateLimitScope: 'mail' },
    schema: {
      tags: ['recovery'],
      summary: 'Mail a new verification link to the caller\'s address',
      security: bearerSecurity(),
      response: {
        202: jsonResponse(AcceptedSchema, 'Accepted; sending happens after this answer'),
        ...bearerProblems,
        403: problemResponse('Account disabled (ERR_ACCOUNT_DISABLED)'),
        409: problemResponse('The address is already verified (ERR_EMAIL_ALREADY_VERIFIED)'),
        ...rateLimited,
        ...unavailable
      }
    }
  }, async (request, reply) => {
    recovery.resendVerification(request.mailAccount!)
    return reply.code(202).send(RESEND_ANSWER)
  })
}

export default recoveryRoutes
