// TOTP (RFC 6238) as every authenticator app reads it: SHA-1, 6 digits, 30-second steps. The codes come from otpauth;
// this module only picks the steps to try and refuses a step at or before the last one accepted.
import { timingSafeEqual } from 'node:crypto'
import { HOTP, Secret, TOTP } from 'otpauth'

export const TOTP_PERIOD = 30
export const TOTP_DIGITS = 6
/** Steps either side of now that are accepted (RFC 6238 §5.2 recommends at most one). */
export const TOTP_WINDOW = 1
/** 160 bits, the HMAC-SHA-1 block RFC 4226 §4 recommends (R6). */
const SECRET_BYTES = 20

/** A new secret, as base32 (what the otpauth:// URI and manual entry carry). */
export const newTotpSecret = (): string => new Secret({ size: SECRET_BYTES }).base32

/** The otpauth:// URI an authenticator app reads from the QR code (Key Uri Format). */
export function otpauthUri (secret: string, issuer: string, account: string): string {
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD }).toString()
}

/** The time step `nowMs` falls in. */
export const timeStep = (nowMs: number): number => Math.floor(nowMs / 1000 / TOTP_PERIOD)

export const isTotpCode = (code: string): boolean => /^[0-9]{6}$/.test(code)

/**
 * The step `code` belongs to, within TOTP_WINDOW of now and after `lastStep` (a code is accepted once), or null.
 * The latest matching step wins, so the stored last step moves as far as the code allows.
 */
export function matchingStep (secret: string, code: string, nowMs: number, lastStep: number | null): number | null {
  if (!isTotpCode(code)) return null
  const key = Secret.fromBase32(secret)
  const given = Buffer.from(code)
  const now = timeStep(nowMs)
  for (let step = now + TOTP_WINDOW; step >= now - TOTP_WINDOW; step--) {
    if (lastStep !== null && step <= lastStep) break
    const expected = Buffer.from(HOTP.generate({ secret: key, counter: step, algorithm: 'SHA1', digits: TOTP_DIGITS }))
    if (timingSafeEqual(expected, given)) return step
  }
  return null
}
