// Mail text: lifetimes in words, and addresses and links HTML-escaped in the HTML part only.
import t from 'tap'
import { describeLifetime, resetPasswordMessage } from '../../src/mail/messages'

t.test('mail text: lifetimes in words, HTML escaped', async (t) => {
  t.equal(describeLifetime(1800), '30 minutes')
  t.equal(describeLifetime(3600), '1 hour')
  t.equal(describeLifetime(90), '90 seconds')
  t.equal(describeLifetime(7 * 86_400), '7 days')
  const m = resetPasswordMessage('a&b<i>@example.com', 'https://x.test/reset-password#token=a.b.c&"', 1800)
  t.ok(m.text.includes('a&b<i>@example.com'), 'text is plain')
  t.ok(m.html.includes('a&amp;b&lt;i&gt;@example.com'), 'html is escaped')
  t.ok(m.html.includes('href="https://x.test/reset-password#token=a.b.c&amp;&quot;"'))
  t.notOk(m.html.includes('<i>'))
})
