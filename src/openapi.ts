// The OpenAPI document as committed in openapi.yaml: the real app built with a fixed configuration, so the text does not depend on the machine.
import { generateKeyPairSync } from 'node:crypto'
import { buildApp } from './app'
import { ManualClock } from './clock'
import { loadConfig } from './config'
import { asymmetricKey, thumbprintKid } from './keys/key'
import { staticKeyProvider } from './keys/key-provider'

/** First line of openapi.yaml, so nobody edits the generated file by hand. */
export const OPENAPI_HEADER = '# Generated from the route schemas by `npm run openapi`; do not edit by hand.\n'

/**
 * Build the app as production does, but from a fixed environment (never process.env or .env: HOST/PORT
 * feed `servers`), an in-memory store and a throw-away in-memory key (no key directory is read or
 * written; no schema depends on the key), and return @fastify/swagger's YAML.
 */
export async function generateOpenApiYaml (): Promise<string> {
  const config = loadConfig({ DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' })
  const clock = new ManualClock(0)
  const privateKey = generateKeyPairSync('ed25519').privateKey
  const key = asymmetricKey(
    { kid: thumbprintKid(privateKey.export({ format: 'jwk' })), alg: 'EdDSA', createdAt: 0, signsFrom: 0, retiredAt: null },
    privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  )
  const app = await buildApp(config, { clock, keys: staticKeyProvider([key], config.jwt, clock), logger: false })
  try {
    await app.ready()
    return OPENAPI_HEADER + await app.openApiYaml()
  } finally {
    await app.close()
  }
}
