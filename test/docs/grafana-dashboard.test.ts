// docs/grafana-dashboard.json against a real scrape: every series it queries exists, and every tessera_ family is on it.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { PrometheusMetrics } from '../../src/metrics/prometheus-metrics'

const REPO_ROOT = path.resolve(__dirname, '..', '..')

interface Panel { type: string, title: string, targets?: Array<{ expr: string }> }
const dashboard = JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs', 'grafana-dashboard.json'), 'utf8')) as { panels: Panel[], title: string }
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p.title, expr: target.expr })))

t.test('every metric the dashboard queries is one Tessera exposes', async (t) => {
  const text = await new PrometheusMetrics().text()
  const families = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1]))
  t.ok(exprs.length >= 15, `${exprs.length} queries`)
  for (const { panel, expr } of exprs) {
    for (const [name] of expr.matchAll(/\b(?:tessera|nodejs|process)_[a-z0-9_]+/g)) {
      const family = name.replace(/_(bucket|count|sum)$/, '')
      t.ok(families.has(name) || families.has(family), `${panel}: ${name}`)
    }
  }
})

t.test('every tessera_ metric has a panel', async (t) => {
  const text = await new PrometheusMetrics({ defaultMetrics: false }).text()
  const ours = [...text.matchAll(/^# TYPE (tessera_\S+) /gm)].map((m) => m[1])
  t.ok(ours.length >= 9)
  for (const family of ours) t.ok(exprs.some(({ expr }) => expr.includes(family)), family)
})

t.test('it imports as a Grafana dashboard: a Prometheus data source input, unique panel ids, no raw URL label', async (t) => {
  t.equal(dashboard.title, 'Tessera')
  const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id)
  t.equal(new Set(ids).size, ids.length)
  t.ok(exprs.every(({ expr }) => !expr.includes('url')), 'route templates, never URLs')
})
