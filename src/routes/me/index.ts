// /v1/me: the caller's own account.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AuthResultSchema } from '../../schemas/auth'
import { ChangePasswordBodySchema, DeleteMeBodySchema, UpdateMeBodySchema } from '../../schemas/me'
import {
  bearerProblems, bearerSecurity, noContent, personalResponse, problemResponse, tokenResponse, unavailable
} from '../../schemas/responses'
import { toUser } from '../../schemas/user'
import type { AccountService } from '../../services/account-service'
import { noStore } from '../no-store'

export interface MeRoutesOptions { accounts: AccountService }

const bodyOnBearer = {
  ...bearerProblems,
  413: problemResponse('Body too large'),
  415: problemResponse('Content-Type must be application/json')
}
const wrongPassword = { 403: problemResponse('The password given is not the current one (ERR_WRONG_PASSWORD)') }
const userRef = Type.Ref('User')

const meRoutes: FastifyPluginAsyncTypebox<MeRoutesOptions> = async (app, { accounts }) => {
  app.addHook('onRequest', app.authenticate)
  app.addHook('onSend', noStore)

  app.get('/', {
    schema: {
      tags: ['me'], summary: 'The caller\'s account', security: bearerSecurity(),
      response: { 200: personalResponse(userRef, 'The account'), ...bearerProblems, ...unavailable }
    }
  }, async (request) => {
    return toUser(await accounts.existing(accounts.store.findById(request.auth!.sub)))
  })

  app.patch('/', {
    schema: {
      tags: ['me'], summary: 'Update the caller\'s profile', security: bearerSecurity(), body: UpdateMeBodySchema,
      response: { 200: personalResponse(userRef, 'The updated account'), ...bodyOnBearer, ...unavailable }
    }
  }, async (request) => {
    return toUser(await accounts.existing(accounts.store.update(request.auth!.sub, { name: request.body.name })))
  })

  app.put('/password', {
    schema: {
      tags: ['me'],
      summary: 'Change the password; every other session is revoked and fresh tokens are returned',
      security: bearerSecurity(),
      body: ChangePasswordBodySchema,
      response: { 200: tokenResponse(AuthResultSchema, 'Fresh tokens for this session'), ...bodyOnBearer, ...wrongPassword, ...unavailable }
    }
  }, async (request) => {
    const { user, tokens } = await accounts.changePassword(request.auth!.sub, request.body)
    return { user: toUser(user), tokenType: 'Bearer' as const, ...tokens }
  })

  app.delete('/', {
    schema: {
      tags: ['me'], summary: 'Delete the caller\'s account (password required)', security: bearerSecurity(), body: DeleteMeBodySchema,
      response: { 204: noContent('Account deleted'), ...bodyOnBearer, ...wrongPassword, ...unavailable }
    }
  }, async (request, reply) => {
    await accounts.deleteSelf(request.auth!.sub, request.body.password)
    return reply.code(204).send()
  })
}

export default meRoutes
