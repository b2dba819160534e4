// The outage log on its own: a store whose calls fail or succeed on demand, a frozen clock, and the lines written.
import t from 'tap'
import { ManualClock } from '../../src/clock'
import { OUTAGE_REPORT_INTERVAL_MS, OutageLog, watchOutages } from '../../src/store/outage-log'
import { createSqliteStore } from '../../src/store/sqlite-store'
import { StoreUnavailableError, type UserStore } from '../../src/store/user-store'
import { START } from '../support/app'

interface Line { obj: Record<string, unknown>, msg: string }

function setup (): { store: UserStore, lines: Line[], clock: ManualClock, down: (how: 'no' | 'reject' | 'throw') => void } {
  const clock = new ManualClock(START)
  const real = createSqliteStore({ path: ':memory:', clock })
  let mode: 'no' | 'reject' | 'throw' = 'no'
  const failing = new Proxy(real, {
    get (target, prop) {
      const value: unknown = Reflect.get(target, prop)
      if (prop !== 'ping' || mode === 'no') return value
      const err = new StoreUnavailableError({ cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })
      return mode === 'throw' ? () => { throw err } : async () => { throw err }
    }
  })
  const lines: Line[] = []
  const store = watchOutages(failing, new OutageLog({ warn: (obj, msg) => { lines.push({ obj: obj as Record<string, unknown>, msg }) } }, clock))
  return { store, lines, clock, down: (how) => { mode = how } }
}

t.test('an outage is three kinds of line: its start, a count at most every interval, its end', async (t) => {
  const { store, lines, clock, down } = setup()
  await store.ping()
  t.same(lines, [], 'nothing while the store works')

  down('reject')
  for (let i = 0; i < 10; i++) await t.rejects(store.ping(), { code: 'ERR_STORE_UNAVAILABLE' })
  down('throw')
  t.throws(() => { void store.ping() }, { code: 'ERR_STORE_UNAVAILABLE' }, 'a call that throws at once is counted too')
  t.same(lines.map((l) => l.msg), ['store unavailable: answering 503 until it is back'], 'eleven failures, one line')
  t.match(lines[0].obj, { cause: 'ECONNREFUSED', reason: 'connect ECONNREFUSED' }, 'the start names the cause, without a stack')
  t.notOk('stack' in lines[0].obj)

  down('reject')
  clock.advance(OUTAGE_REPORT_INTERVAL_MS - 1)
  await t.rejects(store.ping())
  t.equal(lines.length, 1, 'no count line before the interval')
  clock.advance(1)
  await t.rejects(store.ping())
  t.same(lines[1], { msg: 'store still unavailable', obj: { failedCalls: 13, failedSinceLastReport: 12, outageMs: OUTAGE_REPORT_INTERVAL_MS } })
  await t.rejects(store.ping())
  t.equal(lines.length, 2, 'then quiet again until the next interval')

  down('no')
  clock.advance(1000)
  await store.ping()
  await store.ping()
  t.same(lines[2], { msg: 'store available again', obj: { failedCalls: 14, outageMs: OUTAGE_REPORT_INTERVAL_MS + 1000 } }, 'one end line')
  t.equal(lines.length, 3)

  down('reject')
  await t.rejects(store.ping())
  t.equal(lines[3].msg, 'store unavailable: answering 503 until it is back', 'the next outage starts its own story')
})

t.test('after close(), refusals are the shutdown, not an outage', async (t) => {
  const { store, lines } = setup()
  await store.close()
  await t.rejects(store.findById('x'), { code: 'ERR_STORE_UNAVAILABLE' })
  t.same(lines, [])
})

t.test('other errors are not an outage', async (t) => {
  const { store, lines } = setup()
  await store.migrate()
  await store.create({ email: 'a@example.com', name: null, role: 'user', passwordHash: 'h' })
  await t.rejects(store.create({ email: 'a@example.com', name: null, role: 'user', passwordHash: 'h' }))
  t.same(lines, [], 'a taken email is an answer, not an outage')
})
