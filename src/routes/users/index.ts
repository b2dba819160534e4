// /v1/users: administration, for tokens with role admin.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemFor, Problems } from '../../lib/problem'
import {
  bearerBadRequest, bearerBodyProblems, bearerProblems, bearerSecurity, forbiddenProblem, noContent, jsonResponse, personal,
  problemResponse, unavailable
} from '../../schemas/responses'
import { toUser } from '../../schemas/user'
import { AdminPatchBodySchema, LIST_LIMIT_DEFAULT, ListUsersQuerySchema, UserIdParamsSchema, UserListSchema } from '../../schemas/users'
import { invalidCursor, type AdminService } from '../../services/admin-service'
import { noStore } from '../no-store'
import userMfaRoutes from './mfa'
import { signInClient } from '../sign-in-client'
import userSessionsRoutes from './sessions'

export interface UsersRoutesOptions { admin: AdminService }

const notFound = { 404: problemResponse('No user has this id', [Problems.userNotFound()]) }
const badId = bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid id', [
  Problems.validation([{ path: '/id', message: 'must NOT have more than 64 characters' }], 'The params is invalid')
])
const lastAdmin = { 409: problemResponse('The change would leave no enabled administrator; nothing changed', [Problems.lastAdmin()]) }
const adminProblems = { ...bearerProblems, ...forbiddenProblem, ...unavailable }

const usersRoutes: FastifyPluginAsyncTypebox<UsersRoutesOptions> = async (app, { admin }) => {
  app.addHook('onRequest', app.authenticate)
  // onRequest, not preHandler: decide authorisation before parsing or validating anything a non-admin sent.
  app.addHook('onRequest', app.requireRole('admin'))
  // The claim alone would let a demoted, disabled or deleted admin act (and undo that) until its token expires.
  app.addHook('onRequest', async (request) => { await admin.actingAdmin(request.auth!.sub) })
  app.addHook('onSend', noStore)
  await app.register(userSessionsRoutes, { admin })
  await app.register(userMfaRoutes, { admin })

  app.get('/', {
    schema: {
      operationId: 'listUsers', tags: ['users'], summary: 'List users (keyset pagination, creation order)', security: bearerSecurity(),
      querystring: ListUsersQuerySchema,
      response: personal({
        200: jsonResponse(UserListSchema, 'A page of users'),
        ...adminProblems,
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid query (limit, cursor)', [problemFor(invalidCursor())])
      })
    }
  }, async (request) => {
    const { limit = LIST_LIMIT_DEFAULT, cursor } = request.query
    const page = await admin.listUsers({ limit, ...(cursor !== undefined ? { cursor } : {}) })
    return { items: page.users.map(toUser), nextCursor: page.nextCursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getUser', tags: ['users'], summary: 'One user', security: bearerSecurity(), params: UserIdParamsSchema,
      response: personal({ 200: jsonResponse(Type.Ref('User'), 'The user'), ...adminProblems, ...badId, ...notFound })
    }
  }, async (request) => {
    return toUser(await admin.getUser(request.params.id))
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateUser',
      tags: ['users'],
      summary: 'Change role or disable (either revokes the user\'s sessions; refused for the last enabled admin)',
      security: bearerSecurity(),
      params: UserIdParamsSchema, body: AdminPatchBodySchema,
      response: personal({ 200: jsonResponse(Type.Ref('User'), 'The updated user'), ...bearerBodyProblems, ...forbiddenProblem, ...unavailable, ...notFound, ...lastAdmin })
    }
  }, async (request) => {
    return toUser(await admin.updateUser(request.params.id, request.body, { id: request.auth!.sub, client: signInClient(request) }))
  })

  app.delete('/:id', {
    schema: {
      operationId: 'deleteUser', tags: ['users'], summary: 'Delete a user (not the last enabled admin)', security: bearerSecurity(), params: UserIdParamsSchema,
      response: personal({ 204: noContent('Deleted'), ...adminProblems, ...badId, ...notFound, ...lastAdmin })
    }
  }, async (request, reply) => {
    await admin.deleteUser(request.params.id, { id: request.auth!.sub, client: signInClient(request) })
    return reply.code(204).send()
  })
}

export default usersRoutes
