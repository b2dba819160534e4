// The metrics listener (METRICS_PORT): GET /metrics in the Prometheus text format, on its own port, never the API's.
import cluster from 'node:cluster'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AggregatorRegistry, type Registry } from 'prom-client'
import type { Metrics } from './metrics'
import { PrometheusMetrics } from './prometheus-metrics'

export interface MetricsServer {
  /** The port it listens on (the OS's pick for METRICS_PORT=0). */
  port: number
  close (): Promise<void>
}

interface Log { info (obj: object, msg: string): void, warn (obj: object, msg: string): void }

/** `collect` gives the exposition text: one process's registry, or the whole cluster's (clusterCollector). */
export async function startMetricsServer (
  options: { host: string, port: number, collect: () => Promise<string>, contentType: string, log: Log }
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: GET /metrics\n')
      return
    }
    options.collect().then((text) => {
      res.writeHead(200, { 'content-type': options.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text)
    }, (err: unknown) => {
      // A worker that did not answer in time (cluster aggregation): no partial picture, the scrape fails visibly.
      options.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'metrics scrape failed')
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n')
    })
  })
  // Scrapes are short; a stuck scraper must not hold a socket.
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as AddressInfo
  options.log.info({ host: options.host, port }, `metrics listening on http://${options.host}:${port}/metrics`)
  return {
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

/** In a cluster worker: the primary's scrape asks each worker for this registry (prom-client's IPC protocol). */
export function answerClusterScrapes (registry: Registry): void {
  AggregatorRegistry.setRegistries([registry])
  // Constructing one installs the worker's listener for the primary's requests.
  void new AggregatorRegistry()
}

/** In the cluster primary: one scrape sums every worker's metrics (counters added, histograms merged). */
export function clusterCollector (): { collect: () => Promise<string>, contentType: string } {
  const aggregator = new AggregatorRegistry()
  return { collect: async () => await aggregator.clusterMetrics(), contentType: aggregator.contentType }
}

/**
 * The metrics of this process, as server.ts needs them: served on METRICS_PORT by a single process, handed to the
 * primary by a cluster worker (undefined then: the primary listens), nothing when metrics are off.
 */
export async function serveProcessMetrics (
  metrics: Metrics, settings: { host: string, port: number | undefined }, log: Log
): Promise<MetricsServer | undefined> {
  if (!(metrics instanceof PrometheusMetrics) || settings.port === undefined) return undefined
  if (cluster.isWorker) {
    answerClusterScrapes(metrics.registry)
    return undefined
  }
  return await startMetricsServer({
    host: settings.host, port: settings.port, collect: async () => await metrics.text(), contentType: metrics.registry.contentType, log
  })
}
