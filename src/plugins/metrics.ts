// `app.metrics`, and with metrics on, the request-duration histogram (route templates only, so the series stay bounded).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { UNMATCHED_ROUTE, type Metrics } from '../metrics/metrics'

declare module 'fastify' {
  interface FastifyInstance {
    /** What the app counts: Prometheus metrics with METRICS_PORT, else noMetrics (server.ts serves them). */
    metrics: Metrics
  }
}

async function metricsPlugin (app: FastifyInstance, opts: { metrics: Metrics }): Promise<void> {
  const { metrics } = opts
  app.decorate('metrics', metrics)
  if (!metrics.enabled) return
  app.addHook('onResponse', (request, reply, done) => {
    // The template ('/v1/users/:id'), never the URL: a scan of random paths adds no series.
    metrics.request(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}

export default fp(metricsPlugin, { name: 'tessera-metrics', fastify: '5.x' })
