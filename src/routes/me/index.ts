// /v1/me: the caller's own account.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Problems } from '../../lib/problem'
import { AuthResultSchema } from '../../schemas/auth'
import { ChangePasswordBodySchema, DeleteMeBodySchema, UpdateMeBodySchema } from '../../schemas/me'
import {
  bearerBadRequest, bearerBodyProblems, bearerProblems, bearerSecurity, counted, ExampleProblems, noContent, jsonResponse, personal, problemResponse, rateLimited,
  tokenResponse, unavailable
} from '../../schemas/responses'
import { toUser } from '../../schemas/user'
import type { AccountService } from '../../services/account-service'
import type { MfaService } from '../../services/mfa-service'
import type { SecurityEvents } from '../../services/security-events'
import type { SessionService } from '../../services/session-service'
import { noStore } from '../no-store'
import { signInClient } from '../sign-in-client'
import meMfaRoutes from './mfa'
import meSecurityEventsRoutes from './security-events'
import meSessionsRoutes from './sessions'

export interface MeRoutesOptions { accounts: AccountService, sessions: SessionService, mfa: MfaService, events: SecurityEvents }

const wrongPassword = { 403: problemResponse('The password given is not the current one (ERR_WRONG_PASSWORD)', [Problems.wrongPassword()]) }
const userRef = Type.Ref('User')

const meRoutes: FastifyPluginAsyncTypebox<MeRoutesOptions> = async (app, { accounts, sessions, mfa, events }) => {
  app.addHook('onRequest', app.authenticate)
  app.addHook('onSend', noStore)
  await app.register(meSessionsRoutes, { sessions })
  await app.register(meMfaRoutes, { mfa })
  await app.register(meSecurityEventsRoutes, { events })

  app.get('/', {
    schema: {
      operationId: 'getMe', tags: ['me'], summary: 'The caller\'s account', security: bearerSecurity(),
      response: personal({ 200: jsonResponse(userRef, 'The account'), ...bearerProblems, ...unavailable })
    }
  }, async (request) => {
    return toUser(await accounts.me(request.auth!.sub))
  })

  app.patch('/', {
    schema: {
      operationId: 'updateMe', tags: ['me'], summary: 'Update the caller\'s profile', security: bearerSecurity(), body: UpdateMeBodySchema,
      response: personal({ 200: jsonResponse(userRef, 'The updated account'), ...bearerBodyProblems, ...unavailable })
    }
  }, async (request) => {
    return toUser(await accounts.updateProfile(request.auth!.sub, { name: request.body.name }))
  })

  app.put('/password', {
    config: { rateLimitScope: 'password-check' },
    schema: {
      operationId: 'changePassword',
      tags: ['me'],
      summary: 'Change the password; every other session ends, and this one goes on with fresh tokens',
      security: bearerSecurity(),
      body: ChangePasswordBodySchema,
      response: personal({
        ...bearerBodyProblems,
        // Token and body checks answer before the limits; the password checks after them.
        ...counted({
          200: tokenResponse(AuthResultSchema, 'Fresh tokens for this session'),
          ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), invalid body, or new password refused (ERR_PASSWORD_*)', [
            ExampleProblems.invalidBody, ExampleProblems.malformedJson, ...ExampleProblems.weakPasswords('/newPassword')
          ]),
          ...wrongPassword,
          ...rateLimited,
          ...unavailable
        })
      })
    }
  }, async (request) => {
    const { sub, sid, amr } = request.auth!
    const { user, tokens } = await accounts.changePassword(sub, request.body, {
      ...(sid !== undefined ? { sid } : {}), ...(amr !== undefined ? { amr } : {}), client: signInClient(request)
    })
    return { user: toUser(user), ...tokens }
  })

  // Shares the password change's counters: both answer whether a guessed current password is right.
  app.delete('/', {
    config: { rateLimitScope: 'password-check' },
    schema: {
      operationId: 'deleteMe', tags: ['me'], summary: 'Delete the caller\'s account (password required)', security: bearerSecurity(),
      body: DeleteMeBodySchema,
      response: personal({ ...bearerBodyProblems, ...counted({ 204: noContent('Account deleted'), ...wrongPassword, ...rateLimited, ...unavailable }) })
    }
  }, async (request, reply) => {
    await accounts.deleteSelf(request.auth!.sub, request.body.password)
    return reply.code(204).send()
  })
}

export default meRoutes
