// docs/clients.md tells a client what to do after a 503 or a timeout on each write route: the table must name every
// write route of openapi.yaml (a new route without a row fails here), and no route that does not exist.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { parse } from 'yaml'

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const WRITES = new Set(['post', 'put', 'patch', 'delete'])

const openapi = parse(readFileSync(path.join(REPO_ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, unknown>> }
const routes = Object.entries(openapi.paths).flatMap(([route, ops]) =>
  Object.keys(ops).filter((method) => WRITES.has(method)).map((method) => `${method.toUpperCase()} ${route}`))

const clients = readFileSync(path.join(REPO_ROOT, 'docs', 'clients.md'), 'utf8')
const section = clients.split('\n## Retrying after a 503 or a timeout\n')[1]?.split('\n## ')[0] ?? ''
const rows = [...section.matchAll(/^\| `([A-Z]+ \/[^`]*)` [^|]*\| ([^|]+) \| (.+) \|$/gm)].map((m) => ({ route: m[1], safe: m[2].trim(), what: m[3].trim() }))

t.test('the retry table of docs/clients.md has one row per write route of openapi.yaml', async (t) => {
  t.ok(routes.length >= 17, `${routes.length} write routes in openapi.yaml`)
  t.same(rows.map((r) => r.route).sort(), [...routes].sort())
  for (const row of rows) {
    t.match(row.safe, /^(Yes|No)\b/, `${row.route}: says whether a repeat is safe`)
    t.ok(row.what.length > 10, `${row.route}: says what to do`)
  }
})
