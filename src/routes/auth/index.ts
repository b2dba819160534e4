// /v1/auth: register, login, refresh (rotating), logout (hybrid mode), logout-all and whoami.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import { toUser } from '../../schemas/user'
import { AuthResultSchema, LoginBodySchema, RefreshBodySchema, RegisterBodySchema, WhoamiSchema } from '../../schemas/auth'
import {
  bearerBadRequest, bearerProblems, bearerSecurity, bodyProblems, counted, ExampleProblems, jsonResponse, noContent, noSecurity,
  problemResponse, rateLimited, tokenResponse, unavailable
} from '../../schemas/responses'
import type { AccountService, SignedIn } from '../../services/account-service'

export interface AuthRoutesOptions { accounts: AccountService }

const authResult = ({ user, tokens }: SignedIn) => ({ user: toUser(user), tokenType: 'Bearer' as const, ...tokens })

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, { accounts }) => {
  app.post('/register', {
    config: { rateLimitScope: 'register' },
    schema: {
      operationId: 'register',
      tags: ['auth'],
      summary: 'Create an account and log in; a verification link is mailed to the address',
      security: noSecurity(),
      body: RegisterBodySchema,
      response: {
        ...bodyProblems,
        // Body validation answers before the limits; a refused password after them.
        ...counted({
          201: tokenResponse(AuthResultSchema, 'Account created; tokens for the new session'),
          400: problemResponse('Invalid body (problem `errors` lists each field), or password refused (ERR_PASSWORD_*)', [
            ExampleProblems.invalidBody, ExampleProblems.malformedJson, ...ExampleProblems.weakPasswords('/password')
          ]),
          409: problemResponse('Email already registered', [Problems.emailTaken()]),
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    const signedIn = await accounts.register(request.body)
    return reply.code(201).header('cache-control', 'no-store').send(authResult(signedIn))
  })

  app.post('/login', {
    config: { rateLimitScope: 'login' },
    schema: {
      operationId: 'login',
      tags: ['auth'],
      summary: 'Log in with email and password',
      security: noSecurity(),
      body: LoginBodySchema,
      response: {
        ...bodyProblems,
        ...counted({
          200: tokenResponse(AuthResultSchema, 'Tokens for a new session'),
          401: problemResponse('Unknown email or wrong password (same answer for both)', [Problems.invalidCredentials()]),
          403: problemResponse('Account disabled, or email not verified with REQUIRE_VERIFIED_EMAIL (only said after the right password)', [
            Problems.accountDisabled(), Problems.emailNotVerified()
          ]),
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    const signedIn = await accounts.login(request.body)
    return reply.header('cache-control', 'no-store').send(authResult(signedIn))
  })

  app.post('/refresh', {
    config: { rateLimitScope: 'refresh' },
    schema: {
      operationId: 'refreshTokens',
      tags: ['auth'],
      summary: 'Exchange a refresh token for new tokens (the refresh token rotates)',
      security: noSecurity(),
      body: RefreshBodySchema,
      response: {
        ...bodyProblems,
        ...counted({
          200: tokenResponse(AuthResultSchema, 'New access and refresh tokens'),
          401: problemResponse('Refresh token invalid, expired, revoked, past the session lifetime, or its user disabled or gone', [
            Problems.invalidRefreshToken(),
            Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_EXPIRED', 'The refresh token expired'),
            Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_REVOKED', 'The session was revoked'),
            Problems.invalidRefreshToken('ERR_SESSION_EXPIRED', 'The session reached its maximum age; log in again'),
            Problems.invalidRefreshToken('ERR_ACCOUNT_DISABLED', 'This account has been disabled')
          ]),
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    const claims = await app.tokens.verify('refresh', request.body.refreshToken)
    const signedIn = await accounts.refresh(claims)
    return reply.header('cache-control', 'no-store').send(authResult(signedIn))
  })

  app.post('/logout-all', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'logoutAll',
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
      operationId: 'logout',
      tags: ['auth'],
      summary: 'Log out this session only: its access and refresh tokens stop at once (REVOCATION_MODE=hybrid)',
      security: bearerSecurity(),
      response: {
        204: noContent('This session is revoked on every instance'),
        ...bearerProblems,
        ...bearerBadRequest('Malformed Authorization header (error="invalid_request"), or REVOCATION_MODE=stateless (ERR_REVOCATION_MODE: use logout-all)', [
          Problems.revocationMode()
        ]),
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
      operationId: 'whoami',
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
