// Every scenario of `npm run bench`, in the order they run.
import type { Scenario } from '../lib/scenario'
import { coldStart } from './cold-start'
import { dpop } from './dpop'
import { loginStorm } from './login-storm'
import { memory } from './memory'
import { metrics } from './metrics'
import { peers } from './peers'
import { refresh } from './refresh'
import { revocation } from './revocation'
import { soak } from './soak'
import { tokenSize } from './token-size'
import { verification } from './verification'

export const SCENARIOS: Scenario[] = [verification, peers, memory, loginStorm, tokenSize, coldStart, revocation, refresh, dpop, metrics, soak]

/** What a plain `npm run bench` runs: every scenario but the opt-in ones. */
export const DEFAULT_SCENARIOS: Scenario[] = SCENARIOS.filter((s) => s.optIn !== true)
