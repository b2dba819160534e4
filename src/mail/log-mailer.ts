// The embedded default with no SMTP_URL: each message goes to the log at info, with its link, for development.
import type { Mailer } from './mailer'

export interface MailLog {
  info (obj: object, msg: string): void
}

/**
 * Only the recipient, subject and link are logged: the link is what a developer needs, and the
 * bodies add nothing. Passwords and hashes never reach a message, so they cannot reach this line.
 */
export function createLogMailer (log: MailLog): Mailer {
  return {
    kind: 'log',
    send: async (message) => {
      log.info({ mail: { to: message.to, subject: message.subject, link: message.link } },
        'mail not sent (no SMTP_URL): written to the log instead')
    },
    close: async () => {}
  }
}
