// Sends mail in the background: a request never waits for SMTP, and a delivery failure is logged, never answered.
import type { Mailer, MailMessage } from './mailer'

export type MailPurpose = 'password-reset' | 'email-verification'

export interface OutboxLog {
  debug (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** With SMTP stalled, messages wait at most the transport's timeouts; beyond this many, new ones are dropped. */
const MAX_PENDING = 1000

/** What is safe to log of a transport error: never the message, its link, or SMTP credentials. */
function describe (err: unknown): Record<string, unknown> {
  const e = err as { code?: unknown, responseCode?: unknown, message?: unknown }
  return { code: e.code, responseCode: e.responseCode, message: typeof e.message === 'string' ? e.message : String(err) }
}

export class Outbox {
  private readonly pending = new Set<Promise<void>>()

  constructor (private readonly mailer: Mailer, private readonly log: OutboxLog) {}

  get transport (): string { return this.mailer.kind }

  /**
   * Queue a message. Sending starts on a later turn of the event loop, after the current reply is
   * written, so neither the status nor the response time depends on the SMTP server (no timing
   * oracle on whether an account exists, and a dead server is never a 500).
   */
  post (message: MailMessage, about: { purpose: MailPurpose, userId: string }): void {
    if (this.pending.size >= MAX_PENDING) {
      this.log.warn(about, 'mail dropped: too many messages are waiting for the mail server')
      return
    }
    const sending: Promise<void> = new Promise<void>((resolve) => { setImmediate(resolve) })
      .then(() => this.mailer.send(message))
      .then(
        () => { this.log.debug(about, 'mail sent') },
        (err: unknown) => { this.log.error({ ...about, err: describe(err) }, 'mail not sent: the mail server refused it or cannot be reached') }
      )
      .finally(() => { this.pending.delete(sending) })
    this.pending.add(sending)
  }

  /** Wait for the messages in flight (graceful shutdown), at most `timeoutMs`, then close the transport. */
  async close (timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    await Promise.race([Promise.allSettled([...this.pending]), deadline])
    clearTimeout(timer)
    await this.mailer.close()
  }
}
