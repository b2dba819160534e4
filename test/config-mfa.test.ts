// The settings of issue 16 (two-factor sign-in): defaults, accepted spellings of the key, refusals that name the variable.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { loadConfig } from '../src/config'
import { refusal } from './support/app'

t.test('defaults: a 5-minute mfaToken, the key file (no key in the environment), 10/15m per account, 5/5m per token', async (t) => {
  const c = loadConfig({})
  t.equal(c.jwt.mfaTtl, 300)
  t.equal(c.mfa.encryptionKey, undefined)
  t.same(c.rateLimits.mfaAccount, { max: 10, window: 900 })
  t.same(c.rateLimits.mfaToken, { max: 5, window: 300 })
})

t.test('MFA_ENCRYPTION_KEY: 32 bytes in base64 or base64url', async (t) => {
  const key = randomBytes(32)
  t.same(loadConfig({ MFA_ENCRYPTION_KEY: key.toString('base64') }).mfa.encryptionKey, key)
  t.same(loadConfig({ MFA_ENCRYPTION_KEY: key.toString('base64url') }).mfa.encryptionKey, key)
  t.same(loadConfig({ MFA_ENCRYPTION_KEY: ` ${key.toString('base64')}\n` }).mfa.encryptionKey, key, 'surrounding space is ignored')
  t.equal(loadConfig({ MFA_ENCRYPTION_KEY: '' }).mfa.encryptionKey, undefined, 'empty means unset')
})

t.test('refusals name the variable and never echo the key', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ MFA_ENCRYPTION_KEY: randomBytes(16).toString('base64') }, 'MFA_ENCRYPTION_KEY'],
    [{ MFA_ENCRYPTION_KEY: randomBytes(33).toString('base64') }, 'MFA_ENCRYPTION_KEY'],
    [{ MFA_ENCRYPTION_KEY: 'not base64 at all!' }, 'MFA_ENCRYPTION_KEY'],
    [{ MFA_TOKEN_TTL: '10s' }, 'MFA_TOKEN_TTL'],
    [{ MFA_TOKEN_TTL: '1h' }, 'MFA_TOKEN_TTL'],
    [{ RATE_LIMIT_MFA_TOKEN: '0/5m' }, 'RATE_LIMIT_MFA_TOKEN'],
    [{ RATE_LIMIT_MFA_ACCOUNT: 'lots' }, 'RATE_LIMIT_MFA_ACCOUNT'],
    [{ JWT_AUDIENCE: 'tessera/mfa' }, 'JWT_AUDIENCE']
  ]
  for (const [env, variable] of cases) {
    const message = refusal(env)
    t.match(message, variable, JSON.stringify(env))
    if (env.MFA_ENCRYPTION_KEY !== undefined) t.notOk(message.includes(env.MFA_ENCRYPTION_KEY), 'the key is not echoed')
  }
})
