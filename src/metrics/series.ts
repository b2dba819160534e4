// Counters and histograms whose hot path is a plain increment: prom-client's own hash and validate the labels on every
// inc() and observe(), a few microseconds a request. These keep one record per label set, made once, and are turned
// into prom-client's format only when scraped (get(), the interface its Registry reads).
import type { Metric, Registry } from 'prom-client'

type Labels = Record<string, string>
interface Value { labels: Labels | Record<string, string | number>, value: number, metricName?: string }
interface MetricData { name: string, help: string, type: 'counter' | 'histogram', aggregator: 'sum', values: Value[] }

/** One counter's label set: add to `value`. */
export interface CounterSeries { value: number }
/** One histogram's label set: see observe(). */
export interface HistogramSeries { readonly bounds: readonly number[], readonly buckets: number[], sum: number, count: number }

/** Count `value` into the first bucket whose bound is at least it (the last one: +Inf). */
export function observe (series: HistogramSeries, value: number): void {
  const { bounds } = series
  let i = 0
  while (i < bounds.length && value > bounds[i]) i++
  series.buckets[i]++
  series.sum += value
  series.count++
}

abstract class Family<S> {
  private readonly series = new Map<string, { labels: Labels, series: S }>()

  constructor (readonly name: string, readonly help: string, private readonly labelNames: readonly string[], registry: Registry) {
    // Registry reads name, help and get(); the cast is the one place this structural fit meets prom-client's types.
    registry.registerMetric(this as unknown as Metric)
  }

  protected abstract create (): S
  protected abstract values (labels: Labels, series: S): Value[]

  /** The record of one label set (values in labelNames order), made on first use: keep it, then increment it. */
  with (...values: string[]): S {
    const key = values.join('\u0000')
    let entry = this.series.get(key)
    if (entry === undefined) {
      entry = { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]])), series: this.create() }
      this.series.set(key, entry)
    }
    return entry.series
  }

  protected data (type: MetricData['type']): MetricData {
    return { name: this.name, help: this.help, type, aggregator: 'sum', values: [...this.series.values()].flatMap((e) => this.values(e.labels, e.series)) }
  }

  reset (): void { this.series.clear() }
}

export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter'
  protected create (): CounterSeries { return { value: 0 } }
  protected values (labels: Labels, series: CounterSeries): Value[] { return [{ labels, value: series.value }] }
  async get (): Promise<MetricData> { return this.data('counter') }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram'

  constructor (name: string, help: string, labelNames: readonly string[], private readonly bounds: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry)
  }

  protected create (): HistogramSeries { return { bounds: this.bounds, buckets: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 } }

  protected values (labels: Labels, series: HistogramSeries): Value[] {
    let cumulative = 0
    const buckets: Value[] = series.buckets.map((n, i) => {
      cumulative += n
      return { labels: { le: i < this.bounds.length ? this.bounds[i] : '+Inf', ...labels }, value: cumulative, metricName: `${this.name}_bucket` }
    })
    return [...buckets, { labels, value: series.sum, metricName: `${this.name}_sum` }, { labels, value: series.count, metricName: `${this.name}_count` }]
  }

  async get (): Promise<MetricData> { return this.data('histogram') }
}
