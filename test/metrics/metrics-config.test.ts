// METRICS_PORT / METRICS_HOST: off unless set, never the API's port.
import t from 'tap'
import { refusal, testConfig } from '../support/app'

t.test('METRICS_PORT: unset or empty is off; a port turns metrics on, on 127.0.0.1 by default', async (t) => {
  t.same(testConfig().metrics, { port: undefined, host: '127.0.0.1' })
  t.same(testConfig({ METRICS_PORT: '' }).metrics, { port: undefined, host: '127.0.0.1' })
  t.same(testConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics, { port: 9464, host: '0.0.0.0' })
  t.equal(testConfig({ METRICS_PORT: '0' }).metrics.port, 0, '0: the OS picks (logged)')
})

t.test('METRICS_PORT: the API port, out of range or not a number is refused', async (t) => {
  t.match(refusal({ PORT: '3000', METRICS_PORT: '3000' }), /METRICS_PORT: must differ from PORT/)
  t.match(refusal({ METRICS_PORT: '70000' }), /METRICS_PORT: 0-65535/)
  t.match(refusal({ METRICS_PORT: 'nine' }), /METRICS_PORT/)
})

t.test('SECURITY_EVENTS_RETENTION: 90d by default, at least a day', async (t) => {
  t.equal(testConfig().securityEventsRetention, 90 * 86_400)
  t.equal(testConfig({ SECURITY_EVENTS_RETENTION: '400d' }).securityEventsRetention, 400 * 86_400)
  t.match(refusal({ SECURITY_EVENTS_RETENTION: '12h' }), /SECURITY_EVENTS_RETENTION: at least 1d/)
})
