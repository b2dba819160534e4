// /v1/me/security-events: the caller's security history ("Recent security activity"). Registered inside /v1/me (Bearer, no-store).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemFor } from '../../lib/problem'
import { Errors } from '../../errors'
import { bearerBadRequest, bearerProblems, bearerSecurity, jsonResponse, personal, unavailable } from '../../schemas/responses'
import { SECURITY_EVENTS_LIMIT_DEFAULT, SecurityEventListSchema, SecurityEventsQuerySchema } from '../../schemas/security-events'
import type { SecurityEvents } from '../../services/security-events'

export interface MeSecurityEventsRoutesOptions { events: SecurityEvents }

export const SECURITY_EVENTS_DESCRIPTION = 'Sign-ins (and failed logins of the account), password changes and resets, verified address, ' +
  'sessions ended by their owner, refresh token reuse, two-factor changes, and every administrator\'s action on the account ' +
  '(with the administrator). Each with its time, client address, device and session where known. Kept for SECURITY_EVENTS_RETENTION ' +
  '(90 days by default).'

export const invalidEventsCursor = problemFor(Errors.validation([{ path: '/cursor', message: 'is not a cursor this API returned' }], 'Invalid cursor'))

const meSecurityEventsRoutes: FastifyPluginAsyncTypebox<MeSecurityEventsRoutesOptions> = async (app, { events }) => {
  app.get('/security-events', {
    schema: {
      operationId: 'listMySecurityEvents',
      tags: ['me'],
      summary: 'The caller\'s recent security activity, newest first (keyset pagination)',
      description: SECURITY_EVENTS_DESCRIPTION,
      security: bearerSecurity(),
      querystring: SecurityEventsQuerySchema,
      response: personal({
        200: jsonResponse(SecurityEventListSchema, 'A page of events'),
        ...bearerProblems,
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or invalid query (limit, cursor)', [invalidEventsCursor]),
        ...unavailable
      })
    }
  }, async (request) => {
    const { limit = SECURITY_EVENTS_LIMIT_DEFAULT, cursor } = request.query
    const page = await events.list(request.auth!.sub, { limit, ...(cursor !== undefined ? { cursor } : {}) })
    return { items: page.events, nextCursor: page.nextCursor }
  })
}

export default meSecurityEventsRoutes
