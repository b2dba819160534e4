// A typed Tessera client: openapi-fetch over the types that openapi-typescript generates from openapi.yaml, and
// one wrapper around fetch that answers a 401 `invalid_token` challenge by refreshing once and retrying. With `dpop`,
// a fetch middleware adds a DPoP proof (RFC 9449) to every request, so the tokens are bound to the app's key.
//
//   npx openapi-typescript openapi.yaml -o schema.d.ts   (next to this file; regenerate when openapi.yaml changes)
import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './schema'

export type User = components['schemas']['User']
export type AuthResult = components['schemas']['AuthResult']
/** Login's answer for an account with two-factor sign-in on: no tokens yet, an mfaToken for POST /v1/auth/mfa/verify. */
export type MfaChallenge = components['schemas']['MfaChallenge']
/** RFC 9457 problem details; `code` is a union of the stable codes that openapi.yaml lists. */
export type Problem = components['schemas']['Problem']
export type ProblemCode = Problem['code']
export type TesseraApi = Client<paths>

type JsonBody<P extends keyof paths, M extends 'post' | 'put'> =
  paths[P][M] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never
export type RegisterBody = JsonBody<'/v1/auth/register', 'post'>
export type LoginBody = JsonBody<'/v1/auth/login', 'post'>
export type ChangePasswordBody = JsonBody<'/v1/me/password', 'put'>
/** `{ mfaToken, code }` or `{ mfaToken, recoveryCode }`. */
export type VerifyMfaBody = JsonBody<'/v1/auth/mfa/verify', 'post'>

/** Login answers tokens, or the challenge of a second factor; `mfaRequired` tells them apart. */
export const isMfaChallenge = (answer: AuthResult | MfaChallenge): answer is MfaChallenge => 'mfaRequired' in answer

/** Either the data or the problem, as openapi-fetch answers: check `error` first and `data` is narrowed. */
export type Result<T> = { data: T, error?: undefined } | { data?: undefined, error: Problem }

export interface Tokens {
  accessToken: string
  refreshToken: string
}

export interface TesseraClientOptions {
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string
  /** A refresh token kept from an earlier run (a mobile app reads it from the Keychain or the Keystore). */
  refreshToken?: string
  /**
   * Called whenever the tokens change, and with null when the session ends. Persist the refresh token here if
   * the app must stay logged in across restarts; keep the access token in memory only.
   */
  onTokens?: (tokens: Tokens | null) => void
  /**
   * The session is over (refresh refused: logged out, reused, expired, user disabled…): send the user to the login
   * screen. ERR_REFRESH_TOKEN_REUSED means a refresh token of this session was used twice, so a copy may be in
   * someone else's hands: the server has ended the session; tell the user, and suggest changing the password.
   */
  onSessionEnded?: (problem: Problem) => void
  /** Defaults to globalThis.fetch; tests pass one that counts requests. */
  fetch?: (request: Request) => Promise<Response>
  /**
   * Makes a DPoP proof with the app's own key, which never leaves the device: with it, every request carries a proof
   * (withDpop below) and Tessera binds the tokens to that key, so a copied token is worthless elsewhere. For example
   * with panva's `dpop` package: `(htm, htu, token) => generateProof(keyPair, htu, htm, undefined, token)`.
   */
  dpop?: ProofMaker
}

/** A DPoP proof for one request: its method, its URL without query, and the access token it carries if any (`ath`). */
export type ProofMaker = (htm: string, htu: string, accessToken?: string) => Promise<string>

/**
 * The fetch middleware of DPoP: a fresh proof on every request (a retry gets a new one), with `ath` when the request
 * carries a DPoP-bound token. Requests without a token (register, login, refresh) get one too: that is what binds.
 */
export function withDpop (send: (request: Request) => Promise<Response>, makeProof: ProofMaker): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url)
    const authorization = request.headers.get('authorization')
    const token = authorization?.startsWith('DPoP ') === true ? authorization.slice(5) : undefined
    request.headers.set('dpop', await makeProof(request.method, url.origin + url.pathname, token))
    return await send(request)
  }
}

export interface TesseraClient {
  /** Typed calls for every operation of openapi.yaml; Authorization is added, refresh-and-retry is built in. */
  api: TesseraApi
  /** These call `api` and keep the tokens of the answer. */
  register: (body: RegisterBody) => Promise<Result<AuthResult>>
  /** Tokens, or (two-factor sign-in on) an MfaChallenge: ask for the code, then call verifyMfa. */
  login: (body: LoginBody) => Promise<Result<AuthResult | MfaChallenge>>
  /** The second step of login: the challenge's mfaToken and the app's code (or a recovery code). */
  verifyMfa: (body: VerifyMfaBody) => Promise<Result<AuthResult>>
  /** Every other session is revoked; this one goes on with the fresh tokens of the answer. */
  changePassword: (body: ChangePasswordBody) => Promise<Result<AuthResult>>
  /** Ends this session (this device) only, and drops the local tokens. */
  logout: () => Promise<{ error?: Problem }>
  /** Ends every session of the user, this one included, and drops the local tokens. */
  logoutAll: () => Promise<{ error?: Problem }>
  /** Refreshes now (shared with any refresh already running); false if there is no session or it ended. */
  refresh: () => Promise<boolean>
  tokens: () => Tokens | null
}

function unexpected (): never {
  throw new Error('Tessera answered an error without a problem body')
}

/** RFC 6750 §3: only this challenge means "the access token is bad or expired: get a new one". */
export function isInvalidTokenChallenge (response: Response): boolean {
  return response.status === 401 && /\berror="invalid_token"/.test(response.headers.get('www-authenticate') ?? '')
}

export function createTesseraClient (options: TesseraClientOptions): TesseraClient {
  const base = options.fetch ?? ((request: Request) => globalThis.fetch(request))
  const send = options.dpop === undefined ? base : withDpop(base, options.dpop)
  let accessToken: string | null = null
  /** The scheme the access token goes with: DPoP when Tessera bound it to our key (tokenType), Bearer otherwise. */
  let scheme: AuthResult['tokenType'] = 'Bearer'
  let refreshToken: string | null = options.refreshToken ?? null
  /** The refresh in flight: every request that meets a 401 meanwhile waits for this one (single flight). */
  let refreshing: Promise<boolean> | null = null

  // The refresh call itself goes through a client without the wrapper: a 401 there ends the session, no loop.
  const plain = createClient<paths>({ baseUrl: options.baseUrl, fetch: send })

  function keep (result: AuthResult): void {
    accessToken = result.accessToken
    scheme = result.tokenType
    refreshToken = result.refreshToken
    options.onTokens?.({ accessToken, refreshToken })
  }

  function drop (): void {
    accessToken = null
    refreshToken = null
    options.onTokens?.(null)
  }

  function refresh (): Promise<boolean> {
    refreshing ??= (async () => {
      if (refreshToken === null) return false
      const { data, error } = await plain.POST('/v1/auth/refresh', { body: { refreshToken } })
      if (data !== undefined) {
        keep(data)
        return true
      }
      // 401: revoked (logout, logout-all, password change), reused (ERR_REFRESH_TOKEN_REUSED: the session has ended),
      // expired, past SESSION_MAX_AGE, user disabled or deleted. Each refresh token works once: the single flight
      // above keeps this client from spending one twice.
      // Anything else (429, 503, a network error) is transient: keep the refresh token and try again later.
      if (error?.status === 401) {
        drop()
        options.onSessionEnded?.(error)
      }
      return false
    })().finally(() => { refreshing = null })
    return refreshing
  }

  const withBearer = (request: Request, token: string | null): Request => {
    if (token !== null) request.headers.set('authorization', `${scheme} ${token}`)
    return request
  }

  async function authorizedFetch (request: Request): Promise<Response> {
    // A body can be sent once: keep a copy for the retry.
    const retry = request.clone()
    // Restarted with a stored refresh token and no access token yet: refresh first instead of collecting a 401.
    if (accessToken === null && refreshToken !== null) await refresh()
    const used = accessToken
    const response = await send(withBearer(request, used))
    if (!isInvalidTokenChallenge(response) || refreshToken === null) return response
    // Refresh unless another request already did while this one was in flight; then retry exactly once.
    if (accessToken === used && !await refresh()) return response
    return send(withBearer(retry, accessToken))
  }

  const api = createClient<paths>({ baseUrl: options.baseUrl, fetch: authorizedFetch })

  const session = <T extends AuthResult | MfaChallenge>(answer: { data?: T, error?: Problem }): Result<T> => {
    if (answer.data !== undefined) {
      // A challenge carries no tokens: the session starts at verifyMfa.
      if (!isMfaChallenge(answer.data)) keep(answer.data)
      return { data: answer.data }
    }
    // openapi-fetch throws on a network error; any other failure of these routes has a problem body.
    return { error: answer.error ?? unexpected() }
  }

  return {
    api,
    register: async (body) => session(await api.POST('/v1/auth/register', { body })),
    login: async (body) => session(await api.POST('/v1/auth/login', { body })),
    verifyMfa: async (body) => session(await api.POST('/v1/auth/mfa/verify', { body })),
    changePassword: async (body) => session(await api.PUT('/v1/me/password', { body })),
    async logout () {
      const { error } = await api.POST('/v1/auth/logout')
      if (error === undefined) drop()
      return { error }
    },
    async logoutAll () {
      const { error } = await api.POST('/v1/auth/logout-all')
      if (error === undefined) drop()
      return { error }
    },
    refresh,
    tokens: () => accessToken === null || refreshToken === null ? null : { accessToken, refreshToken }
  }
}
