// The onSend hook of route plugins whose answers carry tokens or personal data.
import type { onSendHookHandler } from 'fastify'

/**
 * `Cache-Control: no-store` on every answer of the plugin, errors included: a shared or browser cache must not
 * keep an account, a user list or a token for the next person on the machine (RFC 9111 §5.2.2.5).
 */
export const noStore: onSendHookHandler = (_request, reply, payload, done) => {
  reply.header('cache-control', 'no-store')
  done(null, payload)
}
