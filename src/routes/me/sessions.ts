// /v1/me/sessions: the caller's signed-in devices, and signing one out. Registered inside /v1/me (Bearer, no-store).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import { bearerBadRequest, bearerProblems, bearerSecurity, jsonResponse, noContent, personal, problemResponse, unavailable } from '../../schemas/responses'
import { SessionIdParamsSchema, SessionListSchema } from '../../schemas/sessions'
import type { SessionService } from '../../services/session-service'
import { signInClient } from '../sign-in-client'

export interface MeSessionsRoutesOptions { sessions: SessionService }

const meSessionsRoutes: FastifyPluginAsyncTypebox<MeSessionsRoutesOptions> = async (app, { sessions }) => {
  app.get('/sessions', {
    schema: {
      operationId: 'listMySessions',
      tags: ['me'],
      summary: 'The caller\'s signed-in devices: active sessions, most recently used first',
      security: bearerSecurity(),
      response: personal({ 200: jsonResponse(SessionListSchema, 'Active sessions; `current` marks the caller\'s'), ...bearerProblems, ...unavailable })
    }
  }, async (request) => {
    return { items: await sessions.list(request.auth!.sub, request.auth!.sid) }
  })

  app.delete('/sessions/:id', {
    schema: {
      operationId: 'endMySession',
      tags: ['me'],
      summary: 'Sign out one of the caller\'s devices',
      description: 'Its refresh tokens are refused at once. Its access tokens: in REVOCATION_MODE=stateless they stay valid until ' +
        'they expire (ACCESS_TOKEN_TTL); with REVOCATION_MODE=hybrid they are refused within seconds. The caller\'s own session ' +
        'may be given: that is a logout.',
      security: bearerSecurity(),
      params: SessionIdParamsSchema,
      response: personal({
        204: noContent('The session has ended'),
        ...bearerProblems,
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid id', [
          Problems.validation([{ path: '/id', message: 'must NOT have more than 64 characters' }], 'The params is invalid')
        ]),
        404: problemResponse('No active session of the caller has this id (unknown, another user\'s, or ended already)', [Problems.sessionNotFound()]),
        ...unavailable
      })
    }
  }, async (request, reply) => {
    await sessions.end(request.auth!.sub, request.params.id, signInClient(request))
    return reply.code(204).send()
  })
}

export default meSessionsRoutes
