// autocannon, driven programmatically: one load run against one server, summarised as a LoadSample.
import autocannon from 'autocannon'

export interface LoadPlan {
  label: string
  /** e.g. http://127.0.0.1:40123 */
  baseUrl: string
  requests: autocannon.Request[]
  connections: number
  /** Seconds; ignored when `amount` is set. */
  durationS?: number
  /** Stop after this many responses. */
  amount?: number
  /** Requests per second over all connections (open model); unset means as fast as the server answers. */
  overallRate?: number
  /** Non-2xx answers and socket errors make the sample invalid, unless allowed here (a failing bench must not look fast). */
  allowFailures?: boolean
}

export interface LoadSample {
  label: string
  /** 2xx responses per second over the run. */
  rps: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  durationS: number
  latencyMs: { mean: number, p50: number, p90: number, p99: number, max: number }
}

/**
 * Seconds of load a freshly started server gets before it is measured. Tessera reaches its steady rate only after
 * about 8 s of whoami load (4-s windows of one process: 19.5k, 26k, 35k, 38.5k, 38.4k req/s; V8 growing its young
 * generation and optimising the request path), where plain Fastify is at speed within the first second. A shorter
 * warm-up measured Tessera's warm-up, and throughput ratios moved by ±20 % from one process to the next.
 */
export const WARMUP_S = 10

export class LoadError extends Error {
  override name = 'LoadError'
}

/** Bearer GETs of `path`, each with the next token of `tokens` (shared cursor over all connections). */
export function bearerGets (path: string, tokens: readonly string[], start = 0): autocannon.Request[] {
  let next = start
  return [{
    method: 'GET',
    path,
    setupRequest: (req) => {
      req.headers = { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` }
      return req
    }
  }]
}

/** JSON POSTs of `path`, each with the next body of `bodies`. */
export function jsonPosts (path: string, bodies: readonly string[]): autocannon.Request[] {
  let next = 0
  return [{
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => {
      req.body = bodies[next++ % bodies.length]
      return req
    }
  }]
}

export async function runLoad (plan: LoadPlan): Promise<LoadSample> {
  const options: autocannon.Options = {
    url: plan.baseUrl,
    requests: plan.requests,
    connections: plan.connections,
    pipelining: 1,
    timeout: 30,
    // autocannon stops only on a sample tick (1 s by default): short runs would overrun by up to a second.
    sampleInt: 100
  }
  if (plan.amount !== undefined) options.amount = plan.amount
  // A sub-second phase (the smoke run) counts requests instead: on a loaded machine a 0.1 s window
  // can close before a slow stack's first response, which would fail the smoke for no real reason.
  else if ((plan.durationS ?? 1) < 1) options.amount = Math.max(20, plan.connections * 4)
  else options.duration = plan.durationS ?? 1
  if (plan.overallRate !== undefined) options.overallRate = plan.overallRate
  const result = await autocannon(options)
  const sample: LoadSample = {
    label: plan.label,
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    latencyMs: {
      mean: result.latency.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max
    }
  }
  if (sample.ok === 0) throw new LoadError(`${plan.label}: no successful response (${JSON.stringify(result.statusCodeStats ?? {})}, ${result.errors} errors)`)
  if (plan.allowFailures !== true && (sample.non2xx > 0 || sample.errors > 0)) {
    throw new LoadError(`${plan.label}: ${sample.non2xx} non-2xx answers ${JSON.stringify(result.statusCodeStats ?? {})} and ${sample.errors} socket errors`)
  }
  return sample
}
