// /v1/auth: register, login, refresh (rotating), logout (hybrid mode), logout-all and whoami.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { toUser } from '../../schemas/user'
import { AuthResultSchema, LoginBodySchema, RefreshBodySchema, RegisterBodySchema, WhoamiSchema } from '../../schemas/auth'
import {
  bearerProblems, bearerSecurity, bodyProblems, jsonResponse, noContent, problemResponse, rateLimited, tokenResponse, unavailable
} from '../../schemas/responses'
import type { AccountService, Session } from '../../services/account-service'
import type { RecoveryService } from '../../services/recovery-service'

export interface AuthRoutesOptions { accounts: AccountService, recovery: RecoveryService }

const authResult = ({ user, tokens }: Session) => ({ user: toUser(user), tokenType: 'Bearer' as const, ...tokens })

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, { accounts, recovery }) => {
  app.post('/register', {
    config: { rateLimitScope: 'register' },
    schema: {
      tags: ['auth'],
      summary: 'Create an account and log in; a verification link is mailed to the address',
      body: RegisterBodySchema,
      response: {
        201: tokenResponse(AuthResultSchema, 'Account created; tokens for the new session'),
        ...bodyProblems,
        409: problemResponse('Email already registered'),
        ...rateLimited,
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const session = await accounts.register(request.body)
    recovery.sendVerification(session.user)
    return reply.code(201).header('cache-control', 'no-store').send(authResult(session))
  })

  app.post('/login', {
    config: { rateLimitScope: 'login' },
    schema: {
      tags: ['auth'],
      summary: 'Log in with email and password',
      body: LoginBodySchema,
      response: {
        200: tokenResponse(AuthResultSchema, 'Tokens for a new session'),
        ...bodyProblems,
        401: problemResponse('Unknown email or wrong password (same answer for both)'),
        403: problemResponse('Account disabled, or email not verified with REQUIRE_VERIFIED_EMAIL (only said after the right password)'),
        ...rateLimited,
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const session = await accounts.login(request.body)
    return reply.header('cache-control', 'no-store').send(authResult(session))
  })

  app.post('/refresh', {
    config: { rateLimitScope: 'refresh' },
    schema: {
      tags: ['auth'],
      summary: 'Exchange a refresh token for new tokens (the refresh token rotates)',
      body: RefreshBodySchema,
      response: {
        200: tokenResponse(AuthResultSchema, 'New access and refresh tokens'),
        ...bodyProblems,
        401: problemResponse('Refresh token invalid, expired, revoked, past the session lifetime, or its user disabled or gone'),
        ...rateLimited,
        ...unavailable
      }
    }
  }, async (request, reply) => {
    const claims = await app.verifyRefreshToken(request, request.body.refreshToken)
    const session = await accounts.refresh(claims)
    return reply.header('cache-control', 'no-store').send(authResult(session))
  })

  app.post('/logout-all', {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'],
      summary: 'Revoke every session of the user (refresh tokens die now; access tokens within their TTL, or REVOCATION_CACHE_TTL in hybrid mode)',
      security: bearerSecurity(),
      response: { 204: noContent('Every refresh token of the user is revoked'), ...bearerProblems, ...unavailable }
    }
  }, async (request, reply) => {
    await accounts.logoutAll(request.auth!.sub)
    return reply.code(204).send()
  })

  app.post('/logout', {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'],
      summary: 'Log out this session only: its access and refresh tokens stop at once (REVOCATION_MODE=hybrid)',
      security: bearerSecurity(),
      response: {
        204: noContent('This session is revoked on every instance'),
        ...bearerProblems,
        400: {
          ...bearerProblems[400],
          description: 'Malformed Authorization header (error="invalid_request"), or REVOCATION_MODE=stateless (ERR_REVOCATION_MODE: use logout-all)'
        },
        ...unavailable
      }
    }
  }, async (request, reply) => {
    await accounts.logout(request.auth!)
    return reply.code(204).send()
  })

  app.get('/whoami', {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'],
      summary: 'The verified claims of the access token; touches no storage (hybrid mode: a cached revocation check)',
      security: bearerSecurity(),
      response: { 200: jsonResponse(WhoamiSchema, 'Claims of the presented token'), ...bearerProblems }
    }
  }, async (request) => {
    const { sub, role, iat, exp, jti } = request.auth!
    return { sub, role, iat, exp, jti }
  })
}

export default authRoutes
