// The two-factor half of the storage contract: the sealed TOTP secret, the last accepted time step, the MFA counter
// and the recovery-code hashes of each user. Every change that spends a factor is one compare-and-set.

/** A user's two-factor state. Secrets are sealed by the caller (src/mfa/secret-box.ts): the store never sees one. */
export interface MfaState {
  /** The confirmed authenticator's sealed secret; null: two-factor sign-in is off. */
  secret: string | null
  /** An enrolment waiting for its first code; null when none. */
  pendingSecret: string | null
  /** The last TOTP time step accepted: a code of this step or an earlier one is refused (RFC 6238 §5.2). */
  lastStep: number | null
  /** Moves on with every accepted second factor, enrolment and reset: an mfaToken carrying an older value is dead. */
  counter: number
  recoveryCodesLeft: number
}

/** A second factor to spend: a TOTP time step, or the keyed hash of a recovery code. */
export type MfaFactor = { step: number } | { codeHash: string }

export interface SpendOptions {
  /** Only while the MFA counter still equals this (the mfaToken's `ctr`): of two verifies with one token, one wins. */
  counter?: number
  /** In the same transaction: the recovery codes are replaced by these hashes. */
  replaceCodes?: string[]
  /** In the same transaction: two-factor sign-in is turned off (secret, pending secret and codes forgotten). */
  disable?: boolean
}

export interface MfaStore {
  /** The user's state, or null when there is no such user. */
  mfaState (userId: string): Promise<MfaState | null>
  /** Keep `sealed` as the pending secret (replacing an earlier one), only while MFA is off. False: no such user, or MFA on. */
  setPendingMfa (userId: string, sealed: string): Promise<boolean>
  /**
   * Turn MFA on: compare-and-set on the pending secret still being `sealed` and MFA still off. The secret becomes the
   * pending one, `step` the last used step, `codeHashes` the recovery codes, and the counter moves on. False otherwise.
   */
  enableMfa (userId: string, change: { sealed: string, step: number, codeHashes: string[] }): Promise<boolean>
  /**
   * Spend a factor, compare-and-set: a step only if after the last used one, a recovery code only if it exists (it is
   * deleted); only while MFA is on (and `counter` matches when given). The counter moves on, then `options` apply.
   * False, with nothing changed, when any condition fails.
   */
  spendMfaFactor (userId: string, factor: MfaFactor, options?: SpendOptions): Promise<boolean>
  /** An administrator's reset: MFA off, secret, pending secret and codes forgotten, the counter moves on. False: no such user. */
  resetMfa (userId: string): Promise<boolean>
}
