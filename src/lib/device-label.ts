// The label a session is listed under when the client names none: a short "Browser on OS" read from User-Agent.
import { DEVICE_NAME_MAX_LENGTH } from '../store/session-store'

/** Checked in order: Edge and Opera announce Chrome too, Chrome announces Safari, so the more specific come first. */
const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:Chrome|HeadlessChrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/^curl\//, 'curl']
]
const SYSTEMS: Array<[RegExp, string]> = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux']
]

/** The characters a name may not hold (NAME_PATTERN of src/schemas/user.ts): controls, separators, bidi overrides. */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern removes
const UNSHOWABLE = /[\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]+/g

/** At most `max` code points, never half of a surrogate pair. */
export const truncateCodePoints = (text: string, max: number): string => [...text].slice(0, max).join('')

/**
 * "Firefox on Linux", "Safari on iOS"; a client none of the patterns knows is listed under its User-Agent, cleaned and
 * cut to DEVICE_NAME_MAX_LENGTH. Null without a User-Agent. The label is shown to the user, never trusted.
 */
export function deviceLabel (userAgent: string | undefined): string | null {
  if (userAgent === undefined) return null
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1]
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1]
  if (browser !== undefined && system !== undefined) return `${browser} on ${system}`
  if (browser !== undefined) return browser
  const cleaned = truncateCodePoints(userAgent.replace(UNSHOWABLE, ' ').replace(/ {2,}/g, ' ').trim(), DEVICE_NAME_MAX_LENGTH)
  return cleaned === '' ? null : cleaned
}
