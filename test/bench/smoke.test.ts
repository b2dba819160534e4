// `npm run bench:smoke` end to end, so the benchmarks cannot rot: every scenario runs for about a second
// and must produce finite figures, its results file, its chart and its section of the report.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { RunMeta } from '../../bench/report/report'
import type { FailedScenario, ScenarioResult } from '../../bench/lib/scenario'
import { SCENARIOS } from '../../bench/scenarios'

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const run = promisify(execFile)
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T

t.test('bench --smoke: every scenario produces numbers, a chart and a report section', async (t) => {
  const out = t.testdir()
  const env = { ...process.env }
  // tap's loaders must not be stacked on tsx (the bench runs as `node --import tsx`; its servers run compiled).
  delete env.NODE_OPTIONS
  try {
    await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], { cwd: REPO_ROOT, env, timeout: 160_000 })
  } catch (err) {
    const e = err as Error & { stderr?: string }
    t.fail(`the smoke run failed: ${e.message}\n${e.stderr ?? ''}`)
  }

  const meta = readJson<RunMeta>(path.join(out, 'run.json'))
  t.equal(meta.mode, 'smoke')
  t.same(meta.scenarios.map((s) => s.id).sort(), SCENARIOS.map((s) => s.id).sort(), 'every scenario ran')

  for (const scenario of SCENARIOS) {
    const result = readJson<ScenarioResult | FailedScenario>(path.join(out, `${scenario.id}.json`))
    if ('error' in result) {
      t.fail(`${scenario.id} failed: ${result.error}`)
      continue
    }
    t.equal(result.mode, 'smoke', `${scenario.id}: smoke mode`)
    t.ok(result.figures.length > 0, `${scenario.id}: has figures`)
    for (const figure of result.figures) t.ok(Number.isFinite(figure.value), `${scenario.id}: ${figure.name} = ${figure.value} ${figure.unit}`)
    for (const target of result.targets) t.type(target.met, 'boolean', `${scenario.id}: target "${target.name}" has a verdict`)
    t.match(readFileSync(path.join(out, 'charts', `${scenario.id}.svg`), 'utf8'), /^<svg/, `${scenario.id}: chart rendered`)
  }

  const report = readFileSync(path.join(out, 'REPORT.md'), 'utf8')
  for (const scenario of SCENARIOS) t.match(report, `## ${scenario.title}`)
  t.notMatch(report, 'Not run yet')
  t.notMatch(report, 'This scenario failed')
})
