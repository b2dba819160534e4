// An earlier commit of Tessera, built as `npm start` would build it, to measure a change against in the same run.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from './processes'

/**
 * Built baselines are kept between runs, one directory per commit, outside the repository (the compiler, the linter
 * and tap would otherwise find a second copy of the sources).
 */
const BASELINES = path.join(os.tmpdir(), 'tessera-bench-baselines')

const run = (cmd: string, args: string[], cwd: string): void => {
  const result = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] })
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${cwd} failed (${result.status ?? result.signal})`)
}

/**
 * The absolute path of `dist/server.js` of `ref`: the commit's files from `git archive`, its own dependencies from its
 * lock file (`npm ci`: a dependency may have changed since), then its build script. Needs the repository's history;
 * a shallow clone without the commit fails here, loudly, rather than comparing the current code with itself.
 */
export function baselineServer (ref: string, log: (message: string) => void): { commit: string, script: string } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()
  const dir = path.join(BASELINES, commit)
  const script = path.join(dir, 'dist', 'server.js')
  if (existsSync(script)) return { commit, script }
  log(`building the baseline ${commit.slice(0, 7)} (${ref}) in ${dir}: git archive, npm ci, build`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C '${dir}'`], { cwd: REPO_ROOT })
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'], dir)
  run(process.execPath, [path.join('scripts', 'build.mjs')], dir)
  if (!existsSync(script)) throw new Error(`the baseline ${commit} built no dist/server.js`)
  return { commit, script }
}
