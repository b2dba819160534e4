// Bench-only preload: event-loop delay histogram (perf_hooks), written and reset on each PROBE_SIGNAL (SIGURG).
// Usage: node --import ./bench/dist/preload/eventloop.js dist/server.js, with BENCH_PROBE_FILE set (benchEntry compiles it).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeOnSignal } from './signal-file'

/** Sampling period in ms; a stall shorter than this can be missed, a longer one is recorded in full. */
const RESOLUTION_MS = 5
const NS_PER_MS = 1e6

const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
histogram.enable()

writeOnSignal(() => {
  const snapshot = {
    resolutionMs: RESOLUTION_MS,
    samples: histogram.count,
    minMs: histogram.min / NS_PER_MS,
    meanMs: histogram.mean / NS_PER_MS,
    p50Ms: histogram.percentile(50) / NS_PER_MS,
    p90Ms: histogram.percentile(90) / NS_PER_MS,
    p99Ms: histogram.percentile(99) / NS_PER_MS,
    maxMs: histogram.max / NS_PER_MS
  }
  // Each snapshot covers the time since the previous one.
  histogram.reset()
  return snapshot
})
