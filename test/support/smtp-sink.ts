// A real SMTP server in this process (smtp-server on 127.0.0.1, port 0) that keeps every message it accepts.
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { SMTPServer } from 'smtp-server'

export interface Delivered {
  /** Envelope sender and recipients, as the SMTP session gave them. */
  from: string
  to: string[]
  headers: Record<string, string>
  subject: string
  text: string
  html: string
}

export interface SmtpSink {
  url: string
  port: number
  messages: Delivered[]
  /** The first message not yet taken that matches `filter` (all by default), waiting for it up to `timeoutMs`. */
  next (filter?: (m: Delivered) => boolean, timeoutMs?: number): Promise<Delivered>
  /** With `hold`: resolves once a message has been transmitted and the server is holding back its acceptance. */
  held (): Promise<void>
  /** With `hold`: accept every held message, and later ones at once. */
  release (): void
}

/** Header block → lower-cased names with unfolded values. */
function parseHeaders (block: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}

function decodeBody (body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'quoted-printable': {
      const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      return Buffer.from(bytes, 'latin1').toString('utf8')
    }
    case 'base64': return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
    default: return body
  }
}

/** Enough MIME for what nodemailer writes: one part, or multipart/alternative with text and HTML. */
function parseMessage (raw: string): { headers: Record<string, string>, text: string, html: string } {
  const split = raw.indexOf('\r\n\r\n')
  const headers = parseHeaders(raw.slice(0, split))
  const body = raw.slice(split + 4)
  const out = { headers, text: '', html: '' }
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1]
  const parts = boundary === undefined
    ? [{ headers, body }]
    : body.split(`--${boundary}`).slice(1, -1).map((part) => {
      const p = part.replace(/^\r\n/, '')
      const at = p.indexOf('\r\n\r\n')
      return { headers: parseHeaders(p.slice(0, at)), body: p.slice(at + 4).replace(/\r\n$/, '') }
    })
  for (const part of parts) {
    const type = (part.headers['content-type'] ?? 'text/plain').toLowerCase()
    const decoded = decodeBody(part.body, part.headers['content-transfer-encoding'])
    if (type.startsWith('text/plain')) out.text = decoded
    else if (type.startsWith('text/html')) out.html = decoded
  }
  return out
}

/** `hold`: the server answers no message's DATA until release(), as a slow or stuck SMTP server would. */
export async function startSmtpSink (t: Test, options: { hold?: boolean } = {}): Promise<SmtpSink> {
  const messages: Delivered[] = []
  const waiters: Array<() => void> = []
  let holding = options.hold === true
  const heldBack: Array<() => void> = []
  const holdWaiters: Array<() => void> = []
  const taken = new Set<number>()
  const server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: no STARTTLS offer, so nodemailer does not try the built-in test certificate.
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const parsed = parseMessage(Buffer.concat(chunks).toString('latin1'))
        const deliver = (): void => {
          messages.push({
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            headers: parsed.headers,
            subject: parsed.headers.subject ?? '',
            text: parsed.text,
            html: parsed.html
          })
          waiters.splice(0).forEach((wake) => wake())
          callback()
        }
        if (!holding) {
          deliver()
          return
        }
        heldBack.push(deliver)
        holdWaiters.splice(0).forEach((wake) => wake())
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    // Held messages are accepted first: server.close() waits for their sessions.
    heldBack.splice(0).forEach((deliver) => deliver())
    server.close(() => resolve())
  }))
  const port = (server.server.address() as AddressInfo).port

  const next = async (filter: (m: Delivered) => boolean = () => true, timeoutMs = 5000): Promise<Delivered> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = messages.findIndex((m, j) => !taken.has(j) && filter(m))
      if (i >= 0) {
        taken.add(i)
        return messages[i]
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms (${messages.length} received)`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }
  const held = (): Promise<void> => heldBack.length > 0 ? Promise.resolve() : new Promise((resolve) => { holdWaiters.push(resolve) })
  const release = (): void => {
    holding = false
    heldBack.splice(0).forEach((deliver) => deliver())
  }
  return { url: `smtp://127.0.0.1:${port}`, port, messages, next, held, release }
}

/** The token in a delivered link `<base>/<page>#token=<jwt>`, read from the plain-text body. */
export function tokenFromLink (text: string, page: 'reset-password' | 'verify-email'): { link: string, token: string } {
  const match = new RegExp(`(https?://\\S+/${page}#token=([A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+))`).exec(text)
  if (match === null) throw new Error(`no ${page} link in:\n${text}`)
  return { link: match[1], token: match[2] }
}
