// Sends mail through nodemailer's SMTP transport to SMTP_URL (smtp:// or smtps://, credentials in the URL).
import { createTransport } from 'nodemailer'
import type { Mailer } from './mailer'

/**
 * nodemailer waits up to 2 minutes for a connection and 10 for a stalled socket by default; a mail
 * that cannot go out in seconds is better reported than held, and shutdown waits for it.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

export function createSmtpMailer (url: string, from: string): Mailer {
  // One connection per message (no pool): mail is rare here (rate-limited), and nothing idles open.
  const transport = createTransport({ url, ...TIMEOUTS }, { from })
  return {
    kind: 'smtp',
    send: async (message) => {
      await transport.sendMail({ to: message.to, subject: message.subject, text: message.text, html: message.html })
    },
    close: async () => { transport.close() }
  }
}
