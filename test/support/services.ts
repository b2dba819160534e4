// Outside services a test needs (Redis, Chromium, oathtool): present, or the test is skipped and says why. In CI (CI=true) a
// missing service is a failure, never a skip: CI installs them all (.ci/run).
import { existsSync } from 'node:fs'
import net from 'node:net'
import type { Test } from 'tap'

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const OATHTOOL_PATH = process.env.OATHTOOL_PATH ?? '/usr/bin/oathtool'

export type Service = 'redis' | 'chromium' | 'oathtool'

export const inCi = (): boolean => !['', '0', 'false'].includes(process.env.CI ?? '')

/** Whether a Redis server answers PING at `url`. */
export function redisAnswers (url = REDIS_URL, timeoutMs = 2000): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) })
    let reply = ''
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1')
      // Only +PONG: a server that wants a password (-NOAUTH) is of no use to the tests.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

async function missing (service: Service): Promise<string | null> {
  switch (service) {
    case 'redis': return await redisAnswers() ? null : `Redis not reachable at ${new URL(REDIS_URL).host} (set TEST_REDIS_URL)`
    case 'chromium': return existsSync(CHROMIUM_PATH) ? null : `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`
    case 'oathtool': return existsSync(OATHTOOL_PATH) ? null : `oathtool not found at ${OATHTOOL_PATH} (apt-get install oathtool, or set OATHTOOL_PATH)`
  }
}

/**
 * Call first in a test that needs `service`. True when it is there; otherwise the test is skipped with the reason (it
 * must then return at once, before any assertion), or fails with it under CI.
 */
export async function requireService (t: Test, service: Service): Promise<boolean> {
  const reason = await missing(service)
  return reason === null || unavailable(t, reason)
}

/** Skip `t` with `reason`, or fail it in CI. Always false, for `return unavailable(t, why)`. */
export function unavailable (t: Test, reason: string): false {
  if (inCi()) t.fail(`${reason} (CI=true: a missing service fails the run)`)
  else t.plan(0, reason)
  return false
}
