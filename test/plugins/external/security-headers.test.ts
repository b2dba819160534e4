// The security headers are worked out once at start-up: every response must still carry exactly what helmet's own
// middleware sets on a real response for the same policy (API answers, problems, and Swagger UI under /docs).
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import helmet, { type HelmetOptions } from 'helmet'
import t from 'tap'
import { API_POLICY, DOCS_POLICY } from '../../../src/plugins/external/security-headers'
import { build } from '../../support/app'

/** What helmet's middleware sets on a Node response, run the usual way (per request). */
function helmetOnRealResponse (policy: HelmetOptions): Record<string, unknown> {
  const req = new IncomingMessage(new Socket())
  const res = new ServerResponse(req)
  res.setHeader('X-Powered-By', 'something')
  helmet(policy)(req, res, () => {})
  return res.getHeaders()
}

t.test('API answers and problems carry every header helmet sets for the API policy, with its values', async (t) => {
  const { app } = await build(t)
  const expected = helmetOnRealResponse(API_POLICY)
  t.ok(Object.keys(expected).length >= 6, 'the policy sets headers')
  for (const url of ['/health/live', '/v1/auth/whoami', '/nowhere', '/openapi.json']) {
    const res = await app.inject({ url })
    for (const [name, value] of Object.entries(expected)) t.equal(res.headers[name], String(value), `${url}: ${name}`)
    t.equal(res.headers['x-powered-by'], undefined, `${url}: no X-Powered-By`)
  }
})

t.test('Swagger UI carries the docs policy (its own scripts and styles allowed)', async (t) => {
  const { app } = await build(t)
  const expected = helmetOnRealResponse(DOCS_POLICY)
  const res = await app.inject({ url: '/docs/' })
  t.equal(res.statusCode, 200)
  for (const [name, value] of Object.entries(expected)) t.equal(res.headers[name], String(value), name)
  t.match(String(res.headers['content-security-policy']), /script-src 'self'/)
})
