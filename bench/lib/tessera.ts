// Tessera as a bench target: `node dist/server.js`, as `npm start` runs it, with SQLite and keys in a temp directory.
import path from 'node:path'
import { getStatus, type RunningServer, type ServerSpec } from './processes'

export const WHOAMI_PATH = '/v1/auth/whoami'

/** RATE_LIMIT=off and LOG_LEVEL=warn (no per-request logs); everything else at Tessera's defaults. */
export function tesseraSpec (name: string, dir: string, env: Record<string, string> = {}, nodeArgs: string[] = []): ServerSpec {
  return {
    name,
    script: 'dist/server.js',
    cwd: dir,
    nodeArgs,
    env: {
      DATABASE_URL: `sqlite:${path.join(dir, 'tessera.db')}`,
      JWT_KEYS_DIR: path.join(dir, 'keys'),
      JWT_ALG: 'EdDSA',
      RATE_LIMIT: 'off',
      LOG_LEVEL: 'warn',
      WEB_CONCURRENCY: '1',
      ...env
    }
  }
}

/** Fail early, with the server's answer, unless `token` is accepted and the claims come back. */
export async function checkToken (server: RunningServer, urlPath: string, token: string, sub: string): Promise<void> {
  const { status, body } = await getStatus(server.baseUrl + urlPath, { authorization: `Bearer ${token}` })
  let claims: { sub?: unknown } = {}
  try {
    claims = JSON.parse(body) as { sub?: unknown }
  } catch {
    // reported below
  }
  if (status !== 200 || claims.sub !== sub) {
    throw new Error(`${server.name} refused a bench token on ${urlPath}: HTTP ${status} ${body}`)
  }
}
