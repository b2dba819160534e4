// Bench-only preload: on PROBE_SIGNAL (SIGURG), run a full garbage collection (needs --expose-gc), then report memory.
// The bench reads VmRSS from /proc itself after a quiet period; heap figures explain where memory went.
import { fullGc, writeOnSignal } from './signal-file'

writeOnSignal(() => {
  const gc = fullGc()
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
  return { gc, rss, heapTotal, heapUsed, external, arrayBuffers }
})
