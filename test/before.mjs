// tap's `before` (package.json): bring dist/ up to date once, before the tests that run the compiled server and CLI.
// tap records coverage of this file even with coverage disabled, and fails the run when a file is partly covered;
// so this file has no branch, and scripts/build.mjs runs in a child that is told not to record any.
import { spawnSync } from 'node:child_process'
import process from 'node:process'
import { fileURLToPath, URL } from 'node:url'

const build = fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))
const result = spawnSync(process.execPath, [build], { stdio: 'inherit', env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' } })
process.exitCode = Number(result.status !== 0)
