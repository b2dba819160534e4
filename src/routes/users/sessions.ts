// /v1/users/{id}/sessions: an administrator lists a user's devices or signs them all out. Registered inside /v1/users,
// whose hooks check the admin (token role and current record) and set no-store.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import {
  bearerBadRequest, bearerProblems, bearerSecurity, forbiddenProblem, jsonResponse, noContent, personal, problemResponse, unavailable
} from '../../schemas/responses'
import { SessionListSchema } from '../../schemas/sessions'
import { UserIdParamsSchema } from '../../schemas/users'
import type { AdminService } from '../../services/admin-service'
import { SECURITY_EVENTS_LIMIT_DEFAULT, SecurityEventListSchema, SecurityEventsQuerySchema } from '../../schemas/security-events'
import { invalidEventsCursor, SECURITY_EVENTS_DESCRIPTION } from '../me/security-events'
import { signInClient } from '../sign-in-client'

export interface UserSessionsRoutesOptions { admin: AdminService }

const responses = {
  ...bearerProblems,
  ...forbiddenProblem,
  ...unavailable,
  ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid id', [
    Problems.validation([{ path: '/id', message: 'must NOT have more than 64 characters' }], 'The params is invalid')
  ]),
  404: problemResponse('No user has this id', [Problems.userNotFound()])
}

const userSessionsRoutes: FastifyPluginAsyncTypebox<UserSessionsRoutesOptions> = async (app, { admin }) => {

  app.get('/:id/sessions', {
    schema: {
      operationId: 'listUserSessions',
      tags: ['users'],
      summary: 'A user\'s signed-in devices: active sessions, most recently used first',
      security: bearerSecurity(),
      params: UserIdParamsSchema,
      response: personal({ 200: jsonResponse(SessionListSchema, 'Active sessions of the user'), ...responses })
    }
  }, async (request) => {
    return { items: await admin.listSessions(request.params.id) }
  })

  app.delete('/:id/sessions', {
    schema: {
      operationId: 'endUserSessions',
      tags: ['users'],
      summary: 'Sign a user out everywhere: every session ends (the account stays enabled)',
      description: 'As POST /v1/auth/logout-all for the user: refresh tokens are refused at once; access tokens live out their ' +
        'TTL in REVOCATION_MODE=stateless, and are refused within seconds with REVOCATION_MODE=hybrid.',
      security: bearerSecurity(),
      params: UserIdParamsSchema,
      response: personal({ 204: noContent('Every session of the user has ended'), ...responses })
    }
  }, async (request, reply) => {
    await admin.endSessions(request.params.id, { id: request.auth!.sub, client: signInClient(request) })
    return reply.code(204).send()
  })

  app.get('/:id/security-events', {
    schema: {
      operationId: 'listUserSecurityEvents',
      tags: ['users'],
      summary: 'A user\'s security activity, newest first (keyset pagination)',
      description: SECURITY_EVENTS_DESCRIPTION,
      security: bearerSecurity(),
      params: UserIdParamsSchema,
      querystring: SecurityEventsQuerySchema,
      response: personal({
        200: jsonResponse(SecurityEventListSchema, 'A page of the user\'s events'),
        ...responses,
        // One example per code: the cursor's stands for an invalid id too.
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid id or query (limit, cursor)', [invalidEventsCursor])
      })
    }
  }, async (request) => {
    const { limit = SECURITY_EVENTS_LIMIT_DEFAULT, cursor } = request.query
    const page = await admin.listSecurityEvents(request.params.id, { limit, ...(cursor !== undefined ? { cursor } : {}) })
    return { items: page.events, nextCursor: page.nextCursor }
  })
}

export default userSessionsRoutes
