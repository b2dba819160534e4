// Schemas of the security history: GET /v1/me/security-events and the administrators' /v1/users/{id}/security-events.
import { Type } from '@sinclair/typebox'
import { SECURITY_EVENT_TYPES } from '../store/security-event-store'

export const SECURITY_EVENTS_LIMIT_DEFAULT = 20

export const SecurityEventsQuerySchema = Type.Object({
  // Optional: the TypeBox validator does not fill in `default`, so the route applies it.
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: SECURITY_EVENTS_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }))
}, { additionalProperties: false })

const nullable = (description: string) => Type.Union([Type.String(), Type.Null()], { description })

export const SecurityEventSchema = Type.Object({
  id: Type.String(),
  type: Type.Unsafe<typeof SECURITY_EVENT_TYPES[number]>({
    type: 'string',
    enum: [...SECURITY_EVENT_TYPES],
    description: 'What happened. New types may be added in later versions: keep a default branch'
  }),
  createdAt: Type.String({ format: 'date-time' }),
  ip: nullable('The client address of the request, when the event came from one'),
  deviceName: nullable('The device: the name given at sign-in, else derived from User-Agent'),
  sessionId: nullable('The session concerned, when there is one'),
  actorId: nullable('The administrator who acted (admin_* events); null otherwise and for the command line'),
  detail: nullable('A short qualifier: why a login failed (wrong_password, account_disabled, email_not_verified), how a session ended (logout, logout_others, logout_all), the new role…')
}, { $id: 'SecurityEvent', title: 'SecurityEvent' })

export const SecurityEventListSchema = Type.Object({
  items: Type.Array(Type.Ref('SecurityEvent'), { description: 'Newest first' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for older events; null on the last page' })
}, { title: 'SecurityEventList' })
