// /v1/auth: register, login, refresh (rotating, with reuse detection), logout (this session, the others, all) and whoami.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problems } from '../../lib/problem'
import type { Metrics } from '../../metrics/metrics'
import { counted as countedAs, loginResult, refreshResult } from '../../metrics/outcomes'
import { toUser } from '../../schemas/user'
import { AuthResultSchema, LoginBodySchema, RefreshBodySchema, RegisterBodySchema, WhoamiSchema } from '../../schemas/auth'
import {
  bearerProblems, bearerSecurity, bodyProblems, counted, ExampleProblems, jsonResponse, noContent, noSecurity,
  problemResponse, rateLimited, tokenRequestBadRequest, tokenResponse, unavailable
} from '../../schemas/responses'
import type { AccountService, SignedIn } from '../../services/account-service'
import type { SessionService } from '../../services/session-service'
import { LoginResultSchema } from '../../schemas/mfa'
import { signInClient } from '../sign-in-client'

export interface AuthRoutesOptions { accounts: AccountService, sessions: SessionService, metrics: Metrics }

/** Where the logout routes say what ending a session does to the tokens already out. */
const ENDED_SESSION_TOKENS = 'Refresh tokens of an ended session are refused at once (ERR_REFRESH_TOKEN_REVOKED). Its access tokens: in the ' +
  'default REVOCATION_MODE=stateless they stay valid until they expire (ACCESS_TOKEN_TTL, 15 minutes by default), as nothing is ' +
  'read to check one; with REVOCATION_MODE=hybrid they are refused at once on this instance, and on the others at once with ' +
  'REDIS_URL or within REVOCATION_CACHE_TTL without it.'

export const authResult = ({ user, tokens }: SignedIn) => ({ user: toUser(user), ...tokens })

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, { accounts, sessions, metrics }) => {
  const countLogin = (result: Parameters<Metrics['login']>[0]): void => { metrics.login(result) }
  const countRefresh = (result: Parameters<Metrics['refresh']>[0]): void => { metrics.refresh(result) }
  app.post('/register', {
    config: { rateLimitScope: 'register' },
    preHandler: app.dpopTokenRequest,
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
          ...tokenRequestBadRequest('Invalid body (problem `errors` lists each field), password refused (ERR_PASSWORD_*), or DPoP proof refused', [
            ExampleProblems.invalidBody, ExampleProblems.malformedJson, ...ExampleProblems.weakPasswords('/password')
          ]),
          409: problemResponse('Email already registered', [Problems.emailTaken()]),
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    const { deviceName, ...input } = request.body
    const signedIn = await accounts.register(input, signInClient(request, deviceName))
    return reply.code(201).header('cache-control', 'no-store').send(authResult(signedIn))
  })

  app.post('/login', {
    config: { rateLimitScope: 'login' },
    preHandler: app.dpopTokenRequest,
    schema: {
      operationId: 'login',
      tags: ['auth'],
      summary: 'Log in with email and password',
      description: 'For an account with two-factor sign-in on, the right password answers 200 MfaChallenge (`mfaRequired: true`, ' +
        'an `mfaToken` and the `methods` accepted) instead of tokens: send the token with a code to POST /v1/auth/mfa/verify.',
      security: noSecurity(),
      body: LoginBodySchema,
      response: {
        ...bodyProblems,
        ...counted({
          200: tokenResponse(LoginResultSchema, 'Tokens for a new session (AuthResult), or the second-factor challenge (MfaChallenge)'),
          ...tokenRequestBadRequest('Invalid body (problem `errors` lists each field), or DPoP proof refused', [ExampleProblems.invalidBody, ExampleProblems.malformedJson]),
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
    const { deviceName, ...input } = request.body
    const result = await countedAs(countLogin, loginResult, accounts.login(input, signInClient(request, deviceName)),
      (answer) => 'mfaRequired' in answer ? 'mfa_required' : 'success')
    return reply.header('cache-control', 'no-store').send('mfaRequired' in result ? result : authResult(result))
  })

  app.post('/refresh', {
    config: { rateLimitScope: 'refresh' },
    preHandler: app.dpopTokenRequest,
    schema: {
      operationId: 'refreshTokens',
      tags: ['auth'],
      summary: 'Exchange a refresh token for new tokens (the refresh token rotates; a used one is refused)',
      description: 'Each refresh token works once. Presented again within REFRESH_REUSE_GRACE (10 s by default) of its ' +
        'exchange, as a client retrying after a lost answer or two tabs racing do, it gets the session\'s current tokens. ' +
        'Presented later, one of its holders is not the client (RFC 9700 §4.14.2): the session ends, the answer is 401 ' +
        'ERR_REFRESH_TOKEN_REUSED, and every refresh token of that session gets ERR_REFRESH_TOKEN_REVOKED from then on. ' +
        'Clients keep only the newest refresh token, and send the user to the login screen on either code.',
      security: noSecurity(),
      body: RefreshBodySchema,
      response: {
        ...bodyProblems,
        ...counted({
          200: tokenResponse(AuthResultSchema, 'New access and refresh tokens'),
          ...tokenRequestBadRequest('Invalid body (problem `errors` lists each field), or DPoP proof refused (a bound refresh token needs a proof from its key)', [
            ExampleProblems.invalidBody, ExampleProblems.malformedJson
          ]),
          401: problemResponse('Refresh token invalid, expired, revoked (its session ended), used already (the session ends now), past the session lifetime, or its user disabled or gone', [
            Problems.invalidRefreshToken(),
            Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_EXPIRED', 'The refresh token expired'),
            Problems.invalidRefreshToken('ERR_REFRESH_TOKEN_REVOKED', 'The session was revoked'),
            Problems.refreshTokenReused(),
            Problems.invalidRefreshToken('ERR_SESSION_EXPIRED', 'The session reached its maximum age; log in again'),
            Problems.invalidRefreshToken('ERR_ACCOUNT_DISABLED', 'This account has been disabled')
          ]),
          ...rateLimited,
          ...unavailable
        })
      }
    }
  }, async (request, reply) => {
    const signedIn = await countedAs(countRefresh, refreshResult,
      app.tokens.verify('refresh', request.body.refreshToken).then(async (claims) => {
        app.checkRefreshBinding(claims.cnf, request)
        return await accounts.refresh(claims, signInClient(request))
      }))
    return reply.header('cache-control', 'no-store').send(authResult(signedIn))
  })

  app.post('/logout-all', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'logoutAll',
      tags: ['auth'],
      summary: 'End every session of the user, this one included',
      description: ENDED_SESSION_TOKENS,
      security: bearerSecurity(),
      response: { 204: noContent('Every session of the user has ended'), ...bearerProblems, ...unavailable }
    }
  }, async (request, reply) => {
    await accounts.logoutAll(request.auth!.sub, { ...(request.auth!.sid !== undefined ? { sid: request.auth!.sid } : {}), client: signInClient(request) })
    return reply.code(204).send()
  })

  app.post('/logout', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'logout',
      tags: ['auth'],
      summary: 'End this session (this device) only',
      description: ENDED_SESSION_TOKENS + ' Logging out an ended session again is a 204 too.',
      security: bearerSecurity(),
      response: { 204: noContent('This session has ended'), ...bearerProblems, ...unavailable }
    }
  }, async (request, reply) => {
    await sessions.logout(request.auth!, signInClient(request))
    return reply.code(204).send()
  })

  app.post('/logout-others', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'logoutOthers',
      tags: ['auth'],
      summary: 'End every session of the user except this one ("sign out other devices")',
      description: ENDED_SESSION_TOKENS,
      security: bearerSecurity(),
      response: { 204: noContent('Every other session of the user has ended'), ...bearerProblems, ...unavailable }
    }
  }, async (request, reply) => {
    await sessions.logoutOthers(request.auth!, signInClient(request))
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
    const { sub, role, iat, exp, jti, amr } = request.auth!
    return { sub, role, iat, exp, jti, ...(amr !== undefined ? { amr } : {}) }
  })
}

export default authRoutes
