// What Tessera counts, as one interface: the Prometheus implementation (prometheus-metrics.ts) when METRICS_PORT is set,
// else noMetrics, whose methods do nothing, so an instance without metrics collects nothing.
import type { SessionEndReason } from '../store/session-store'
import type * as MetricsServerModule from './metrics-server'
import type * as PrometheusMetricsModule from './prometheus-metrics'

/** `mfa_required`: a right password for an account with two-factor sign-in, answered with a challenge (POST /v1/auth/mfa/verify finishes it). */
export type LoginResult = 'success' | 'mfa_required' | 'invalid_credentials' | 'disabled' | 'email_not_verified' | 'error'
/** `dpop_invalid`: a DPoP-bound refresh token without a valid proof from its key. */
export type RefreshResult = 'success' | 'invalid' | 'expired' | 'revoked' | 'reused' | 'session_expired' | 'disabled' | 'dpop_invalid' | 'error'
/** The access-token check of a protected route: every outcome the Bearer hook can have. */
/** `dpop_invalid`: a bound token without a valid proof, or a token sent with the other scheme (RFC 9449). */
export type TokenCheckResult = 'valid' | 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' | 'dpop_invalid' | 'error'
export type PasswordHashOperation = 'hash' | 'verify'

export interface Metrics {
  /** False for noMetrics: hooks that only feed metrics are then not installed at all. */
  readonly enabled: boolean
  login (result: LoginResult): void
  refresh (result: RefreshResult): void
  tokenCheck (result: TokenCheckResult): void
  /** A request refused by an abuse limit: its scope (login, refresh…) and the limit's name (login-ip…). */
  rateLimited (scope: string, limit: string): void
  sessionsEnded (reason: SessionEndReason, count: number): void
  /** A store call that failed (not a refusal such as "email taken"): `operation` is the store method. */
  storeError (operation: string): void
  passwordHash (operation: PasswordHashOperation, seconds: number): void
  /** The verified-token cache (src/tokens/verified-tokens.ts) of one token kind. */
  verifyCache (kind: string, hit: boolean): void
  /** A finished request: `route` is the route's template (never the raw URL), or 'unmatched'. */
  request (method: string, route: string, status: number, seconds: number): void
}

const nothing = (): void => {}

export const noMetrics: Metrics = {
  enabled: false,
  login: nothing,
  refresh: nothing,
  tokenCheck: nothing,
  rateLimited: nothing,
  sessionsEnded: nothing,
  storeError: nothing,
  passwordHash: nothing,
  verifyCache: nothing,
  request: nothing
}

/** The label of a request no route matched (404s, and errors found before routing): one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched'

// prom-client, with the @opentelemetry/api it loads, is about 140 modules: 30–40 ms of start-up and a few MiB that a
// server without METRICS_PORT never uses. So the Prometheus side is loaded only when metrics are on.
/* eslint-disable @typescript-eslint/no-require-imports -- a load that only happens when metrics are on is a synchronous require */
export const loadPrometheusMetrics = (): typeof PrometheusMetricsModule => require('./prometheus-metrics') as typeof PrometheusMetricsModule
export const loadMetricsServer = (): typeof MetricsServerModule => require('./metrics-server') as typeof MetricsServerModule
/* eslint-enable @typescript-eslint/no-require-imports */
