// The Mailer seam (injected through buildApp deps like the store and clock) and the choice of transport.
import type { Config } from '../config'
import { createLogMailer, type MailLog } from './log-mailer'
import type * as SmtpMailer from './smtp-mailer'

export interface MailMessage {
  /** One address of the grammar in lib/email (a stored, normalised address), never a list. */
  to: string
  subject: string
  text: string
  html: string
  /** The one action link of the message; the log transport prints it. */
  link: string
}

export interface Mailer {
  /** For the start-up log: 'smtp', or 'log' when messages are written to the log (no SMTP_URL). */
  readonly kind: string
  /** Resolves once the server accepted the message; rejects when it cannot be delivered. */
  send (message: MailMessage): Promise<void>
  close (): Promise<void>
}

/** SMTP when SMTP_URL is set; otherwise the embedded default, which writes each message to the log. */
export function createMailer (mail: Config['mail'], log: MailLog): Mailer {
  if (mail.smtpUrl === undefined) return createLogMailer(log)
  // Required only with SMTP_URL: nodemailer costs over 10 MiB and start-up time the log transport does not need.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deferred load needs a synchronous require
  const { createSmtpMailer } = require('./smtp-mailer') as typeof SmtpMailer
  return createSmtpMailer(mail.smtpUrl, mail.from)
}
