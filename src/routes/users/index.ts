// /v1/users: administration, for tokens with role admin.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Problems } from '../../lib/problem'
import {
  bearerBadRequest, bearerBodyProblems, bearerProblems, bearerSecurity, forbiddenProblem, noContent, jsonResponse, personal,
  problemResponse, unavailable
} from '../../schemas/responses'
import { toUser } from '../../schemas/user'
import { AdminPatchBodySchema, LIST_LIMIT_DEFAULT, ListUsersQuerySchema, UserIdParamsSchema, UserListSchema } from '../../schemas/users'
import { guardStore, type AccountService } from '../../services/account-service'
import type { SessionService } from '../../services/session-service'
import { noStore } from '../no-store'
import userSessionsRoutes from './sessions'

export interface UsersRoutesOptions { accounts: AccountService, sessions: SessionService }

/** Cursors are opaque to clients so the keyset (today: the last id) can change without breaking them. */
const encodeCursor = (id: string): string => Buffer.from(`id:${id}`).toString('base64url')
function decodeCursor (cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!decoded.startsWith('id:') || encodeCursor(decoded.slice(3)) !== cursor) {
    throw Problems.validation([{ path: '/cursor', message: 'is not a cursor this API returned' }], 'Invalid cursor')
  }
  return decoded.slice(3)
}

const notFound = { 404: problemResponse('No user has this id', [Problems.userNotFound()]) }
const invalidCursor = Problems.validation([{ path: '/cursor', message: 'is not a cursor this API returned' }], 'Invalid cursor')
const badId = bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid id', [
  Problems.validation([{ path: '/id', message: 'must NOT have more than 64 characters' }], 'The params is invalid')
])
const lastAdmin = { 409: problemResponse('The change would leave no enabled administrator; nothing changed', [Problems.lastAdmin()]) }
const admin = { ...bearerProblems, ...forbiddenProblem, ...unavailable }

const usersRoutes: FastifyPluginAsyncTypebox<UsersRoutesOptions> = async (app, { accounts, sessions }) => {
  app.addHook('onRequest', app.authenticate)
  // onRequest, not preHandler: decide authorisation before parsing or validating anything a non-admin sent.
  app.addHook('onRequest', app.requireRole('admin'))
  // The claim alone would let a demoted, disabled or deleted admin act (and undo that) until its token expires.
  app.addHook('onRequest', async (request) => { await accounts.actingAdmin(request.auth!.sub) })
  app.addHook('onSend', noStore)
  await app.register(userSessionsRoutes, { accounts, sessions })
  const store = accounts.store

  app.get('/', {
    schema: {
      operationId: 'listUsers', tags: ['users'], summary: 'List users (keyset pagination, creation order)', security: bearerSecurity(),
      querystring: ListUsersQuerySchema,
      response: personal({
        200: jsonResponse(UserListSchema, 'A page of users'),
        ...admin,
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid query (limit, cursor)', [invalidCursor])
      })
    }
  }, async (request) => {
    const { limit = LIST_LIMIT_DEFAULT, cursor } = request.query
    const after = cursor === undefined ? undefined : decodeCursor(cursor)
    // One extra row tells whether another page exists without a COUNT.
    const rows = await guardStore(store.list({ limit: limit + 1, ...(after !== undefined ? { after } : {}) }))
    const page = rows.slice(0, limit)
    return {
      items: page.map(toUser),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null
    }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getUser', tags: ['users'], summary: 'One user', security: bearerSecurity(), params: UserIdParamsSchema,
      response: personal({ 200: jsonResponse(Type.Ref('User'), 'The user'), ...admin, ...badId, ...notFound })
    }
  }, async (request) => {
    const user = await guardStore(store.findById(request.params.id))
    if (user === null) throw Problems.userNotFound()
    return toUser(user)
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
    return toUser(await accounts.adminUpdate(request.params.id, request.body))
  })

  app.delete('/:id', {
    schema: {
      operationId: 'deleteUser', tags: ['users'], summary: 'Delete a user (not the last enabled admin)', security: bearerSecurity(), params: UserIdParamsSchema,
      response: personal({ 204: noContent('Deleted'), ...admin, ...badId, ...notFound, ...lastAdmin })
    }
  }, async (request, reply) => {
    if (!await accounts.deleteUser(request.params.id)) throw Problems.userNotFound()
    return reply.code(204).send()
  })
}

export default usersRoutes
