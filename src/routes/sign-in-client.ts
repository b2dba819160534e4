// What a request tells the session service about the device signing in.
import type { FastifyRequest } from 'fastify'
import type { SignInClient } from '../services/session-service'

/**
 * The chosen device name, else the User-Agent to derive one from, the client address (TRUST_PROXY applied), and the
 * DPoP key the request proved it holds (src/plugins/auth.ts), which the tokens will be bound to.
 */
export function signInClient (request: FastifyRequest, deviceName?: string): SignInClient {
  const userAgent = request.headers['user-agent']
  return {
    ...(deviceName !== undefined ? { deviceName } : {}),
    ...(userAgent !== undefined ? { userAgent } : {}),
    ip: request.ip,
    ...(request.dpopJkt !== undefined ? { jkt: request.dpopJkt } : {})
  }
}
