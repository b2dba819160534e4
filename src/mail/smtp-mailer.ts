// Sends mail through nodemailer's SMTP transport to SMTP_URL (smtp:// or smtps://, credentials in the URL).
import { createTransport } from 'nodemailer'
import { isValidEmail } from '../lib/email'
import type { Mailer } from './mailer'

/**
 * nodemailer waits up to 2 minutes for a connection and 10 for a stalled socket by default; a mail
 * that cannot go out in seconds is better reported than held, and shutdown waits for it.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

/**
 * One mailbox as nodemailer's address object. A string `to` goes through nodemailer's address-list
 * parser, which reads "a@x.org,b@y.org" or "(c)a@x.org" as several recipients or a display name; an
 * object is used as given. The grammar check is the last guard for a stored address that predates it.
 */
export function smtpRecipient (address: string): { name: string, address: string } {
  if (!isValidEmail(address)) throw new Error('recipient is not a single valid email address')
  return { name: '', address }
}

export function createSmtpMailer (url: string, from: string): Mailer {
  // One connection per message (no pool): mail is rare here (rate-limited), and nothing idles open.
  const transport = createTransport({ url, ...TIMEOUTS }, { from })
  return {
    kind: 'smtp',
    send: async (message) => {
      await transport.sendMail({ to: smtpRecipient(message.to), subject: message.subject, text: message.text, html: message.html })
    },
    close: async () => { transport.close() }
  }
}
