// Tessera's increment-only series, checked against prom-client's own Counter and Histogram: the same observations
// must give the same exposition text, so a scrape cannot tell them apart.
import { Counter, Histogram, Registry } from 'prom-client'
import t from 'tap'
import { CounterFamily, HistogramFamily, observe } from '../../src/metrics/series'

const BOUNDS = [0.001, 0.01, 0.1, 1]
const VALUES = [0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 3, 0, 7]

t.test('a histogram family reads exactly like prom-client\'s Histogram', async (t) => {
  const ours = new Registry()
  const theirs = new Registry()
  const family = new HistogramFamily('x_seconds', 'help', ['route', 'status'], BOUNDS, ours)
  const reference = new Histogram({ name: 'x_seconds', help: 'help', labelNames: ['route', 'status'], buckets: BOUNDS, registers: [theirs] })
  for (const [i, v] of VALUES.entries()) {
    const status = i % 2 === 0 ? '200' : '401'
    observe(family.with('/v1/a/:id', status), v)
    reference.observe({ route: '/v1/a/:id', status }, v)
  }
  t.equal(await ours.metrics(), await theirs.metrics())
})

t.test('a counter family reads exactly like prom-client\'s Counter', async (t) => {
  const ours = new Registry()
  const theirs = new Registry()
  const family = new CounterFamily('y_total', 'help', ['result'], ours)
  const reference = new Counter({ name: 'y_total', help: 'help', labelNames: ['result'], registers: [theirs] })
  family.with('ok').value += 3
  family.with('bad').value++
  reference.inc({ result: 'ok' }, 3)
  reference.inc({ result: 'bad' })
  t.equal(await ours.metrics(), await theirs.metrics())
  t.equal(family.with('ok'), family.with('ok'), 'one record per label set, kept')
})
