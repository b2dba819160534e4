// Two-factor helpers for the tests: enrol an account with codes from oathtool, log in to the second step, verify.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { bearer, PASSWORD, type TestContext } from '../support/app'
import { oathtool, uriSecret } from '../support/totp'

export const STEP_MS = 30_000

export interface Challenge { mfaRequired: true, mfaToken: string, expiresIn: number, methods: string[] }
export interface Enrolled { secret: string, recoveryCodes: string[] }

/** Enrol the holder of `accessToken`: password, the otpauth URI's secret, the first code computed by oathtool. */
export async function enrol (t: Test, ctx: TestContext, accessToken: string): Promise<Enrolled> {
  const start = await ctx.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: bearer(accessToken), payload: { password: PASSWORD } })
  t.equal(start.statusCode, 201, start.statusCode === 201 ? 'enrol' : start.body)
  const { secret, otpauthUri } = start.json<{ secret: string, otpauthUri: string }>()
  t.equal(uriSecret(otpauthUri), secret, 'the URI carries the secret shown as text')
  const confirm = await ctx.app.inject({
    method: 'POST', url: '/v1/me/mfa/totp/confirm', headers: bearer(accessToken), payload: { code: oathtool(secret, ctx.clock.now()) }
  })
  t.equal(confirm.statusCode, 200, confirm.statusCode === 200 ? 'confirm' : confirm.body)
  // The confirming code's step is spent: the next code comes from the next step, as with a real app.
  ctx.clock.advance(STEP_MS)
  return { secret, recoveryCodes: confirm.json<{ recoveryCodes: string[] }>().recoveryCodes }
}

export const login = (app: FastifyInstance, email = 'alice@example.com', password = PASSWORD): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } })

/** The login's challenge; fails the test when the login answers anything else. */
export async function challenge (t: Test, app: FastifyInstance, email = 'alice@example.com'): Promise<Challenge> {
  const res = await login(app, email)
  t.equal(res.statusCode, 200, res.body)
  const body = res.json<Challenge>()
  t.equal(body.mfaRequired, true, 'the password alone gets a challenge, not tokens')
  return body
}

export const verify = (app: FastifyInstance, payload: Record<string, unknown>): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/mfa/verify', payload })

/** The claims of a JWT, read without checking it (the tests check what the server signed, not the signature). */
export const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
