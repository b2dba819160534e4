// Entry point: load config, then either run WEB_CONCURRENCY workers (node:cluster) or serve directly.
import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app'
import { ConfigError, loadConfig, type Config } from './config'
import { loadMetricsServer } from './metrics/metrics'

/** How long a dying worker's replacement waits, so a crash loop cannot spin the CPU. */
const RESTART_DELAY_MS = 1000

function readConfig (): Config {
  try {
    return loadConfig(process.env, { dotenv: true })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tessera: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
}

async function serve (config: Config): Promise<void> {
  const app = await buildApp(config)
  // METRICS_PORT: a listener of its own (or, in a worker, the primary's scrape answered over IPC).
  // prom-client is loaded only when metrics are on (app.ts).
  const metricsServer = config.metrics.port === undefined
    ? undefined
    : await loadMetricsServer().serveProcessMetrics(app.metrics, config.metrics, app.log)
  // A worker often gets the stop signal twice: from the primary, and directly (Ctrl-C signals the process
  // group, systemd the whole unit). close-with-grace takes a second signal as "exit 1 now", dropping the
  // requests in flight, so a worker handles SIGTERM and SIGINT itself and acts on the first only.
  const workerSignals: Array<'SIGTERM' | 'SIGINT'> = cluster.isWorker ? ['SIGTERM', 'SIGINT'] : []
  let workerSignal: NodeJS.Signals | undefined
  const grace = closeWithGrace({ delay: 10_000, skip: workerSignals }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal: signal ?? workerSignal }, 'shutting down: draining in-flight requests')
    await app.close()
    await metricsServer?.close()
  })
  for (const name of workerSignals) {
    process.on(name, () => {
      if (workerSignal !== undefined) return
      workerSignal = name
      grace.close()
    })
  }
  await app.listen({ host: config.host, port: config.port })
}

/** The primary only supervises: workers share the port, a dead one is replaced, SIGTERM stops all. */
function supervise (workers: number, metrics: Config['metrics']): void {
  let stopping = false
  // pino's numbers: 30 info, 50 error.
  const log = (msg: string, level = 30): void => { process.stdout.write(JSON.stringify({ level, time: Date.now(), pid: process.pid, msg }) + '\n') }
  for (let i = 0; i < workers; i++) cluster.fork()
  // One scrape of the primary sums every worker's metrics.
  if (metrics.port !== undefined) {
    const port = metrics.port
    const { clusterCollector, startMetricsServer } = loadMetricsServer()
    startMetricsServer({ host: metrics.host, port, ...clusterCollector(), log: { info: (_obj, msg) => { log(msg) }, warn: (_obj, msg) => { log(msg) } } })
      .catch((err: unknown) => {
        process.stderr.write(`tessera: metrics listener failed on port ${port}: ${err instanceof Error ? err.message : String(err)}\n`)
        process.exit(1)
      })
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    // Outside a stop, a worker only ends by crashing (or being killed): an operator must see it under LOG_LEVEL=warn.
    log(`worker ${worker.process.pid} exited (${signal ?? code}); starting a replacement`, 50)
    // A stop during the delay must not start a worker nobody will stop.
    setTimeout(() => { if (!stopping) cluster.fork() }, RESTART_DELAY_MS)
  })
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    log(`${signal}: stopping ${workers} workers`)
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

const config = readConfig()
if (config.webConcurrency > 1 && cluster.isPrimary) {
  supervise(config.webConcurrency, config.metrics)
} else {
  serve(config).catch((err: unknown) => {
    process.stderr.write(`tessera: failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
