// Waiting for something another process or connection does: poll, with a bound that only keeps a broken build from hanging.

/**
 * Poll until `condition` holds. The bound is no speed claim (a busy machine may be slow): "at once" is proved by a
 * frozen clock and a long cache TTL, not by a stopwatch.
 */
export async function until (condition: () => boolean | Promise<boolean>, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await condition()) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return condition()
}
