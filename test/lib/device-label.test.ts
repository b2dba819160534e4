// deviceLabel: a short "Browser on OS" for the common clients, the cleaned User-Agent otherwise.
import t from 'tap'
import { deviceLabel } from '../../src/lib/device-label'

t.test('labels', async (t) => {
  const cases: Array<[string | undefined, string | null]> = [
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0', 'Edge on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari on macOS'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15', 'Firefox on iOS'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on Linux'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['curl/8.5.0', 'curl'],
    ['okhttp/4.12.0', 'okhttp/4.12.0'],
    ['MyApp/1.0\tbuild\u0085 7', 'MyApp/1.0 build 7'],
    ['\u0001\u0002', null],
    [undefined, null]
  ]
  for (const [userAgent, label] of cases) t.equal(deviceLabel(userAgent), label, String(userAgent))
  t.equal(deviceLabel('x'.repeat(500)), 'x'.repeat(100))
})
