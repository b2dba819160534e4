// What a request tells the session service about the device signing in.
import type { FastifyRequest } from 'fastify'
import type { SignInClient } from '../services/session-service'

/** The chosen device name, else the User-Agent to derive one from, and the client address (TRUST_PROXY applied). */
export function signInClient (request: FastifyRequest, deviceName?: string): SignInClient {
  const userAgent = request.headers['user-agent']
  return {
    ...(deviceName !== undefined ? { deviceName } : {}),
    ...(userAgent !== undefined ? { userAgent } : {}),
    ip: request.ip
  }
}
