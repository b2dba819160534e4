// Schemas of the devices list: GET/DELETE /v1/me/sessions and the administrators' /v1/users/{id}/sessions.
import { Type } from '@sinclair/typebox'
import { DEVICE_NAME_MAX_LENGTH } from '../store/session-store'
import { NAME_PATTERN } from './user'

/** Shown in the devices list, so it follows the rule of a display name (no controls, separators or bidi overrides). */
export const DeviceNameSchema = Type.String({
  minLength: 1,
  maxLength: DEVICE_NAME_MAX_LENGTH,
  pattern: NAME_PATTERN,
  description: 'How this sign-in is listed among the user\'s devices, e.g. "Alice\'s phone". Without it, a label is derived ' +
    'from User-Agent ("Firefox on Linux"). No control characters, line separators or bidi overrides'
})

export const SessionSchema = Type.Object({
  id: Type.String({ description: 'The session id: the `sid` of its tokens, and `sessionId` of the sign-in answer' }),
  deviceName: Type.Union([Type.String(), Type.Null()], { description: 'The name given at sign-in, else derived from User-Agent; null when neither was sent' }),
  createdAt: Type.String({ format: 'date-time', description: 'The sign-in' }),
  lastUsedAt: Type.String({ format: 'date-time', description: 'The last refresh (the sign-in before the first)' }),
  expiresAt: Type.String({ format: 'date-time', description: 'SESSION_MAX_AGE after the sign-in: refresh stops, sign in again' }),
  ip: Type.Union([Type.String(), Type.Null()], { description: 'The client address of the last refresh (of the sign-in before the first)' }),
  current: Type.Boolean({ description: 'The session of the access token that asked' })
}, { $id: 'Session', title: 'Session' })

export const SessionListSchema = Type.Object({
  items: Type.Array(Type.Ref('Session'), { description: 'Active sessions (not ended, not expired), most recently used first' })
}, { title: 'SessionList' })

export const SessionIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'A session id from the list' })
})
