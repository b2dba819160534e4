// DELETE /v1/users/{id}/mfa: an administrator turns off the two-factor sign-in of a user who lost the device and the
// recovery codes. Registered inside /v1/users, whose hooks check the admin (token role and current record).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import {
  bearerBadRequest, bearerProblems, bearerSecurity, forbiddenProblem, noContent, personal, problemResponse, unavailable
} from '../../schemas/responses'
import { UserIdParamsSchema } from '../../schemas/users'
import type { AdminService } from '../../services/admin-service'
import { signInClient } from '../sign-in-client'

export interface UserMfaRoutesOptions { admin: AdminService }

const userMfaRoutes: FastifyPluginAsyncTypebox<UserMfaRoutesOptions> = async (app, { admin }) => {
  app.delete('/:id/mfa', {
    schema: {
      operationId: 'resetUserMfa',
      tags: ['users'],
      summary: 'Turn off a user\'s two-factor sign-in (lost device): secret and recovery codes forgotten, every session ended',
      description: 'The user then signs in with the password alone, and may enrol again. Check who is asking before you do ' +
        'this: it removes the second factor an attacker with the password would need (docs/operations.md).',
      security: bearerSecurity(),
      params: UserIdParamsSchema,
      response: personal({
        204: noContent('Two-factor sign-in is off and every session of the user has ended'),
        ...bearerProblems,
        ...forbiddenProblem,
        ...unavailable,
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid id', [
          Problems.validation([{ path: '/id', message: 'must NOT have more than 64 characters' }], 'The params is invalid')
        ]),
        404: problemResponse('No user has this id', [Problems.userNotFound()]),
        409: problemResponse('The user has no two-factor sign-in to turn off', [Problems.mfaNotEnabled()])
      })
    }
  }, async (request, reply) => {
    await admin.resetMfa(request.params.id, { id: request.auth!.sub, client: signInClient(request) })
    return reply.code(204).send()
  })
}

export default userMfaRoutes
