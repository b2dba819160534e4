// REVOCATION_MODE, REVOCATION_CACHE_SIZE and REVOCATION_CACHE_TTL: defaults (stateless), parsing, and what start-up refuses.
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config'

const base = { DATABASE_URL: 'sqlite::memory:' }

t.test('defaults: stateless, 50,000 entries, 5 s', async (t) => {
  t.strictSame(loadConfig(base).revocation, { mode: 'stateless', cacheSize: 50_000, cacheTtl: 5 })
})

t.test('hybrid with its settings', async (t) => {
  const config = loadConfig({ ...base, REVOCATION_MODE: 'hybrid', REVOCATION_CACHE_SIZE: '1000', REVOCATION_CACHE_TTL: '2m' })
  t.strictSame(config.revocation, { mode: 'hybrid', cacheSize: 1000, cacheTtl: 120 })
})

t.test('refused at start-up, naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ REVOCATION_MODE: 'sessions' }, /REVOCATION_MODE/],
    [{ REVOCATION_CACHE_SIZE: '0' }, /REVOCATION_CACHE_SIZE/],
    [{ REVOCATION_CACHE_SIZE: 'lots' }, /REVOCATION_CACHE_SIZE/],
    [{ REVOCATION_CACHE_TTL: '0' }, /REVOCATION_CACHE_TTL: must be between 1 s and 1h, got 0 s/],
    [{ REVOCATION_CACHE_TTL: '2h' }, /REVOCATION_CACHE_TTL: must be between 1 s and 1h, got 7200 s/],
    [{ REVOCATION_CACHE_TTL: '5 minutes' }, /REVOCATION_CACHE_TTL/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig({ ...base, ...env }), message, JSON.stringify(env))
    t.throws(() => loadConfig({ ...base, ...env }), ConfigError)
  }
})
