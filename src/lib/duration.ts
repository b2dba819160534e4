// Parses the duration syntax of every *_TTL / *_AGE setting: plain seconds or a unit suffix.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

export const DURATION_PATTERN = '^\\s*\\d+\\s*[smhd]?\\s*$'

/** Seconds for `900`, `15m`, `12h`, `30d`; throws on anything else. */
export function parseDuration (value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid duration ${value}`)
    return value
  }
  const match = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(value)
  if (match === null) throw new RangeError(`invalid duration "${value}" (use seconds or a suffix: 900, 15m, 12h, 30d)`)
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] === '' ? 's' : match[2]]
  if (!Number.isSafeInteger(seconds)) throw new RangeError(`duration "${value}" is too large`)
  return seconds
}
