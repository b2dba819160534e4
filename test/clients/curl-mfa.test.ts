// The two-step login of docs/clients.md, run by /bin/sh against a real Tessera process, codes from oathtool.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { requireService } from '../support/services'
import { PASSWORD, REPO_ROOT, startTessera } from './client-helper'

const run = promisify(execFile)

/** The ```sh block that follows `<!-- two-step-login -->` in docs/clients.md. */
function twoStepLogin (): string {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'clients.md'), 'utf8')
  const match = /<!-- two-step-login -->\s*```sh\n([\s\S]*?)\n```/.exec(doc)
  if (match === null) throw new Error('docs/clients.md has no ```sh block after <!-- two-step-login -->')
  return match[1]
}

t.test('the documented two-step login works as written', async (t) => {
  if (!await requireService(t, 'oathtool')) return
  const tessera = await startTessera(t)
  const script = twoStepLogin()
  t.notMatch(script, /\bjq\b/, 'curl, sed and oathtool only')
  // What the README walkthrough has set by its step 2, for a fresh account.
  const prelude = [
    `BASE=${tessera.baseUrl}`,
    'EMAIL=mfa-walkthrough@example.com',
    `PASSWORD='${PASSWORD}'`,
    'CREDENTIALS="{\\"email\\":\\"$EMAIL\\",\\"password\\":\\"$PASSWORD\\"}"',
    'field () { sed -n "s/.*\\"$1\\":\\"\\([^\\"]*\\)\\".*/\\1/p"; }',
    'ACCESS=$(curl -s "$BASE/v1/auth/register" -H \'content-type: application/json\' -d "$CREDENTIALS" | field accessToken)'
  ].join('\n')
  const { stdout } = await run('/bin/sh', ['-eu', '-c', `${prelude}\n${script}`], { cwd: REPO_ROOT, timeout: 60_000 })
  t.comment(stdout.trimEnd())
  const lines = stdout.trimEnd().split('\n')
  t.match(lines[0], /^enrolled: first recovery code [0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/, 'enrolment shows recovery codes')
  t.match(lines[1], /^login: mfaToken \d{3,} bytes$/, 'the password step answers an mfaToken')
  t.match(lines[2], /^whoami: \{"sub":"[0-9a-z]{26}","role":"user","iat":\d+,"exp":\d+,"jti":"[\w-]{16}","amr":\["pwd","otp"\]\}$/, 'the second step signs in, with amr')
  t.match(lines[3], /^again: \{.*"code":"ERR_MFA_TOKEN_INVALID"[^}]*\} HTTP 401$/, 'the mfaToken works once')
  t.equal(lines[4], 'recovery: HTTP 200', 'a recovery code signs in')
  t.equal(lines.length, 5)
})
