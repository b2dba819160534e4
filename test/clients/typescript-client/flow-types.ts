// Types shared by flow.ts and the test that runs it; kept apart because flow.ts needs the generated schema.

/**
 * The assertions flow.ts makes: a tap Test fits. Not tap's own type, so the type-check of the program does not
 * load tap's declarations (several seconds).
 */
export interface Checks {
  pass: (message: string) => unknown
  fail: (message: string) => unknown
  ok: (value: unknown, message: string) => unknown
  equal: (found: unknown, wanted: unknown, message: string) => unknown
  not: (found: unknown, notWanted: unknown, message: string) => unknown
  same: (found: unknown, wanted: unknown, message: string) => unknown
  match: (found: unknown, pattern: RegExp, message: string) => unknown
  type: (found: unknown, type: string, message: string) => unknown
}

/** One request the client sent, as the recording fetch saw it. */
export interface Exchange {
  method: string
  /** Path and query string */
  path: string
  status: number
  /** Whether it carried an Authorization header */
  bearer: boolean
}

export interface FlowOptions {
  baseUrl: string
  /** The user's address; other accounts of the flow are derived from it. */
  email: string
  /** An administrator created with the CLI before the flow runs. */
  adminEmail: string
  adminPassword: string
  /** Filled by the flow: every exchange, in order. */
  log: Exchange[]
  /** The code an authenticator app shows for `secret`, `steps` 30-second steps from now (oathtool, in the test). */
  totp?: (secret: string, steps?: number) => string
}
