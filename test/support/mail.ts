// The real app wired to a real in-process SMTP server, a mailer that can be awaited, and log capture.
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { loggerOptions } from '../../src/server-options'
import type { ManualClock } from '../../src/clock'
import type { Mailer, MailMessage } from '../../src/mail/mailer'
import type { UserStore } from '../../src/store/user-store'
import { createSmtpMailer } from '../../src/mail/smtp-mailer'
import { build, testConfig, type TestContext } from './app'
import { NEW_PASSWORD } from './passwords'
import { startSmtpSink, type Delivered, type SmtpSink } from './smtp-sink'

export { NEW_PASSWORD }

/** The real SMTP mailer, counted: tests can wait until every send it started has finished. */
export class TrackedMailer implements Mailer {
  readonly kind: string
  sends = 0
  private readonly pending = new Set<Promise<void>>()
  constructor (private readonly inner: Mailer) { this.kind = inner.kind }

  async send (message: MailMessage): Promise<void> {
    this.sends++
    const sending = this.inner.send(message)
    this.pending.add(sending)
    try {
      await sending
    } finally {
      this.pending.delete(sending)
    }
  }

  /** Every send started so far has finished (delivered or failed), after the outbox's deferral. */
  async settled (): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    await Promise.allSettled([...this.pending])
  }

  close (): Promise<void> { return this.inner.close() }
}

export interface LogCapture { lines: Array<Record<string, unknown>>, text: () => string }

/** Production logger options (same redaction) writing into memory. */
export function captureLogs (level = 'info'): { logger: object, logs: LogCapture } {
  const raw: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { raw.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')); done() } })
  const logs: LogCapture = {
    get lines () { return raw.map((l) => JSON.parse(l) as Record<string, unknown>) },
    text: () => raw.join('\n')
  }
  return { logger: { ...loggerOptions(testConfig()) as object, level, stream }, logs }
}

export interface MailContext extends TestContext { sink: SmtpSink, mailer: TrackedMailer, logs: LogCapture }

export interface MailBuildOptions { env?: Record<string, string>, holdMail?: boolean, clock?: ManualClock, store?: UserStore }

export async function buildWithMail (t: Test, options: MailBuildOptions = {}): Promise<MailContext> {
  const sink = await startSmtpSink(t, { hold: options.holdMail === true })
  const env = { SMTP_URL: sink.url, MAIL_FROM: 'Tessera Test <auth@tessera.test>', PUBLIC_URL: 'https://app.example.com/account', ...options.env }
  const mailer = new TrackedMailer(createSmtpMailer(sink.url, testConfig(env).mail.from))
  const { logger, logs } = captureLogs()
  const ctx = await build(t, {
    env, mailer, logger, ...(options.clock !== undefined ? { clock: options.clock } : {}), ...(options.store !== undefined ? { store: options.store } : {})
  })
  return { ...ctx, sink, mailer, logs }
}

export const post = (app: FastifyInstance, url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url, payload, headers })

export const forgot = (app: FastifyInstance, email: string, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email }, remoteAddress })

export const resetPassword = (app: FastifyInstance, token: string, newPassword = NEW_PASSWORD): Promise<LightMyRequestResponse> =>
  post(app, '/v1/auth/password/reset', { token, newPassword })

export const verifyEmail = (app: FastifyInstance, token: string): Promise<LightMyRequestResponse> =>
  post(app, '/v1/auth/email/verify', { token })

export const login = (app: FastifyInstance, email: string, password: string): Promise<LightMyRequestResponse> =>
  post(app, '/v1/auth/login', { email, password })

export const refresh = (app: FastifyInstance, refreshToken: string): Promise<LightMyRequestResponse> =>
  post(app, '/v1/auth/refresh', { refreshToken })

/** Header and claims of a JWT, unverified. */
export function decodeJwt (token: string): { header: Record<string, unknown>, claims: Record<string, unknown> } {
  const [h, p] = token.split('.')
  const json = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>
  return { header: json(h), claims: json(p) }
}

export const RESET_SUBJECT = 'Reset your password'
export const VERIFY_SUBJECT = 'Confirm your email address'
export const isReset = (m: Delivered): boolean => m.subject === RESET_SUBJECT
export const isVerify = (m: Delivered): boolean => m.subject === VERIFY_SUBJECT
