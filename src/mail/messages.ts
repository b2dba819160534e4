// The text and HTML of the two mails Tessera sends, and the links in them.
import type { MailMessage } from './mailer'

/**
 * `<PUBLIC_URL>/<page>#token=…`: the token rides in the fragment, which browsers never send to a
 * server or put in a Referer, so it stays out of access logs. The page (the application's front
 * end) posts it to the API; a GET alone (a mail scanner following links) consumes nothing.
 */
export const linkTo = (publicUrl: string, page: 'reset-password' | 'verify-email', token: string): string =>
  `${publicUrl}/${page}#token=${token}`

const escapeHtml = (s: string): string =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;')

/** "30 minutes", "24 hours", "7 days": how long a link works, in words. */
export function describeLifetime (seconds: number): string {
  const units: Array<[number, string]> = [[86_400, 'day'], [3600, 'hour'], [60, 'minute']]
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${name}${seconds === size ? '' : 's'}`
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`
}

function compose (to: string, subject: string, link: string, paragraphs: { before: string[], after: string[] }): MailMessage {
  const text = [...paragraphs.before, link, ...paragraphs.after].join('\n\n') + '\n'
  const html = '<!doctype html><html><body>' +
    paragraphs.before.map((p) => `<p>${escapeHtml(p)}</p>`).join('') +
    `<p><a href="${escapeHtml(link)}">${escapeHtml(subject)}</a></p>` +
    paragraphs.after.map((p) => `<p>${escapeHtml(p)}</p>`).join('') +
    '</body></html>'
  return { to, subject, text, html, link }
}

export function resetPasswordMessage (to: string, link: string, ttlSeconds: number): MailMessage {
  return compose(to, 'Reset your password', link, {
    before: [
      `Someone, hopefully you, asked to reset the password of the account for ${to}.`,
      `To choose a new password, open this link within ${describeLifetime(ttlSeconds)}. It works once:`
    ],
    after: ['If you did not ask for this, ignore this message: your password stays as it is.']
  })
}

export function verifyEmailMessage (to: string, link: string, ttlSeconds: number): MailMessage {
  return compose(to, 'Confirm your email address', link, {
    before: [
      `Please confirm that ${to} is your email address by opening this link within ${describeLifetime(ttlSeconds)}:`
    ],
    after: ['If you did not create an account, ignore this message.']
  })
}
