// Bench-only preload: on PROBE_SIGNAL (SIGURG), run a full garbage collection (needs --expose-gc), then report memory.
// The bench reads VmRSS from /proc itself after a quiet period; heap figures explain where memory went.
import { writeOnSignal } from './signal-file'

writeOnSignal(() => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    // Twice: the first pass can leave objects only the second frees (weak references, finalizers).
    gc()
    gc()
  }
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
  return { gc: gc !== undefined, rss, heapTotal, heapUsed, external, arrayBuffers }
})
