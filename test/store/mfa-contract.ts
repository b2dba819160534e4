// The two-factor half of the store contract (MfaStore), run by contract.ts against every store: each change that
// spends a factor is a compare-and-set, and a refused one changes nothing.
import type { Test } from 'tap'
import type { ManualClock } from '../../src/clock'
import type { MfaState, UserStore } from '../../src/store/user-store'

type Setup = (t: Test) => Promise<{ clock: ManualClock, store: UserStore }>

const NO_USER = '0190a000-0000-7000-8000-000000000000'
const SEALED = 'v1.sealed-secret-a'
const OTHER = 'v1.sealed-secret-b'
const CODES = ['hash-1', 'hash-2', 'hash-3']

let users = 0
const addUser = (store: UserStore) => store.create({
  email: `mfa-user-${users++}@example.io`, name: null, role: 'user', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'
})

const OFF: MfaState = { secret: null, pendingSecret: null, lastStep: null, counter: 0, recoveryCodesLeft: 0 }

/** A user with MFA on: SEALED confirmed at step 100, CODES stored, counter 1. */
async function enrolled (store: UserStore): Promise<string> {
  const user = await addUser(store)
  await store.setPendingMfa(user.id, SEALED)
  await store.enableMfa(user.id, { sealed: SEALED, step: 100, codeHashes: CODES })
  return user.id
}

export function mfaContract (t: Test, setup: Setup): void {
  t.test('mfa: a new user has MFA off; an unknown user has no state', async t => {
    const { store } = await setup(t)
    const user = await addUser(store)
    t.equal(user.mfaEnabled, false)
    t.strictSame(await store.mfaState(user.id), OFF)
    t.equal(await store.mfaState(NO_USER), null)
    t.equal(await store.setPendingMfa(NO_USER, SEALED), false)
    t.equal(await store.resetMfa(NO_USER), false)
  })

  t.test('mfa: enrolment is pending until enableMfa names the pending secret; then mfaEnabled is read with the user', async t => {
    const { store } = await setup(t)
    const user = await addUser(store)
    t.equal(await store.setPendingMfa(user.id, OTHER), true)
    t.equal(await store.setPendingMfa(user.id, SEALED), true, 'a new enrolment replaces the pending one')
    t.strictSame(await store.mfaState(user.id), { ...OFF, pendingSecret: SEALED })
    t.equal((await store.findById(user.id))?.mfaEnabled, false, 'pending is not on')
    t.equal(await store.enableMfa(user.id, { sealed: OTHER, step: 100, codeHashes: CODES }), false, 'a replaced secret cannot be confirmed')
    t.strictSame(await store.mfaState(user.id), { ...OFF, pendingSecret: SEALED }, 'the refusal changed nothing')
    t.equal(await store.enableMfa(user.id, { sealed: SEALED, step: 100, codeHashes: CODES }), true)
    t.strictSame(await store.mfaState(user.id), { secret: SEALED, pendingSecret: null, lastStep: 100, counter: 1, recoveryCodesLeft: 3 })
    t.equal((await store.findById(user.id))?.mfaEnabled, true)
    t.equal((await store.findByEmail(user.email))?.mfaEnabled, true)
    t.equal(await store.enableMfa(user.id, { sealed: SEALED, step: 101, codeHashes: CODES }), false, 'once on, not again')
    t.equal(await store.setPendingMfa(user.id, OTHER), false, 'no new enrolment while on')
    t.strictSame(await store.mfaState(user.id), { secret: SEALED, pendingSecret: null, lastStep: 100, counter: 1, recoveryCodesLeft: 3 })
  })

  t.test('mfa: a time step is spent once, only after the last one, and only with the expected counter', async t => {
    const { store } = await setup(t)
    const id = await enrolled(store)
    t.equal(await store.spendMfaFactor(id, { step: 100 }), false, 'the step of the enrolment code')
    t.equal(await store.spendMfaFactor(id, { step: 99 }), false, 'an earlier step')
    t.equal(await store.spendMfaFactor(id, { step: 101 }, { counter: 0 }), false, 'a stale counter')
    t.strictSame(await store.mfaState(id), { secret: SEALED, pendingSecret: null, lastStep: 100, counter: 1, recoveryCodesLeft: 3 })
    t.equal(await store.spendMfaFactor(id, { step: 101 }, { counter: 1 }), true)
    t.equal(await store.spendMfaFactor(id, { step: 101 }), false, 'the same step again')
    t.strictSame(await store.mfaState(id), { secret: SEALED, pendingSecret: null, lastStep: 101, counter: 2, recoveryCodesLeft: 3 })
  })

  t.test('mfa: two spends of one step at once: exactly one wins', async t => {
    const { store } = await setup(t)
    const id = await enrolled(store)
    const results = await Promise.all([store.spendMfaFactor(id, { step: 105 }), store.spendMfaFactor(id, { step: 105 })])
    t.same(results.sort(), [false, true])
    const codes = await Promise.all([store.spendMfaFactor(id, { codeHash: 'hash-1' }), store.spendMfaFactor(id, { codeHash: 'hash-1' })])
    t.same(codes.sort(), [false, true], 'and of one recovery code')
    t.equal((await store.mfaState(id))?.counter, 3)
  })

  t.test('mfa: a recovery code is deleted when spent; an unknown one, or a stale counter, changes nothing', async t => {
    const { store } = await setup(t)
    const id = await enrolled(store)
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-9' }), false, 'unknown code')
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-1' }, { counter: 7 }), false, 'stale counter')
    t.strictSame(await store.mfaState(id), { secret: SEALED, pendingSecret: null, lastStep: 100, counter: 1, recoveryCodesLeft: 3 })
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-1' }, { counter: 1 }), true)
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-1' }), false, 'used once')
    t.strictSame(await store.mfaState(id), { secret: SEALED, pendingSecret: null, lastStep: 100, counter: 2, recoveryCodesLeft: 2 })
    const other = await enrolled(store)
    t.equal(await store.spendMfaFactor(other, { codeHash: 'hash-1' }), true, 'another user\'s codes are their own')
  })

  t.test('mfa: spending can replace the codes or turn MFA off in the same step; a refused spend does neither', async t => {
    const { store } = await setup(t)
    const id = await enrolled(store)
    t.equal(await store.spendMfaFactor(id, { step: 100 }, { replaceCodes: ['new-1'] }), false)
    t.equal((await store.mfaState(id))?.recoveryCodesLeft, 3)
    t.equal(await store.spendMfaFactor(id, { step: 101 }, { replaceCodes: ['new-1', 'new-2'] }), true)
    t.equal((await store.mfaState(id))?.recoveryCodesLeft, 2)
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-1' }), false, 'the old codes are void')
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-2' }, { disable: true }), false)
    t.equal((await store.findById(id))?.mfaEnabled, true)
    t.equal(await store.spendMfaFactor(id, { codeHash: 'new-2' }, { disable: true }), true)
    const off = await store.mfaState(id)
    t.ok(off !== null && off.counter > 2, 'the counter moved on')
    t.strictSame(off, { ...OFF, counter: off?.counter })
    t.equal((await store.findById(id))?.mfaEnabled, false)
    t.equal(await store.spendMfaFactor(id, { step: 200 }), false, 'nothing to spend once off')
  })

  t.test('mfa: resetMfa forgets everything and moves the counter on; the user may enrol again', async t => {
    const { store } = await setup(t)
    const id = await enrolled(store)
    t.equal(await store.resetMfa(id), true)
    t.strictSame(await store.mfaState(id), { ...OFF, counter: 2 })
    t.equal(await store.setPendingMfa(id, OTHER), true)
    t.equal(await store.enableMfa(id, { sealed: OTHER, step: 50, codeHashes: [] }), true, 'a later step history starts afresh')
    t.equal((await store.mfaState(id))?.lastStep, 50)
  })

  t.test('mfa: deleting the user deletes its recovery codes', async t => {
    const { store } = await setup(t)
    const id = await enrolled(store)
    t.equal(await store.delete(id), true)
    t.equal(await store.mfaState(id), null)
    t.equal(await store.spendMfaFactor(id, { codeHash: 'hash-1' }), false)
  })
}
