// tap's `before` (package.json): bring dist/ up to date once, before the tests that run the compiled server and CLI,
// and stop embedded PostgreSQL servers left by interrupted runs (test/support/stop-embedded-postgres.ts).
// tap records coverage of this file even with coverage disabled, and fails the run when a file is partly covered;
// so this file has no branch, and its children are told not to record any.
import { spawnSync } from 'node:child_process'
import process from 'node:process'
import { fileURLToPath, URL } from 'node:url'

const env = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', TAP_RUN_PID: String(process.ppid) }
const build = fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))
const stop = fileURLToPath(new URL('./support/stop-embedded-postgres.ts', import.meta.url))
const built = spawnSync(process.execPath, [build], { stdio: 'inherit', env })
const stopped = spawnSync(process.execPath, ['--import', 'tsx', stop], { stdio: 'inherit', env })
process.exitCode = Number(built.status !== 0 || stopped.status !== 0)
