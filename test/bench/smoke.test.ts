// `npm run bench:smoke` end to end, so the benchmarks cannot rot. The reference is what a reader has in hand: the
// committed bench/REPORT.md and bench/results/*.json (which the README cites): the smoke report must have every section
// and target row of it, each target with a verdict and a figure, and every results file must be written, with numbers.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { FailedScenario, ScenarioResult } from '../../bench/lib/scenario'
import { SCENARIOS } from '../../bench/scenarios'

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const BENCH = path.join(REPO_ROOT, 'bench')
const run = promisify(execFile)
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T

const sections = (report: string): string[] => [...report.matchAll(/^## (\d+\. .+)$/gm)].map((m) => m[1])
/** The Targets table: target name → its Measured and Verdict cells. */
function targets (report: string): Map<string, { measured: string, verdict: string }> {
  const table = report.split('## Targets')[1]?.split('\n## ')[0] ?? ''
  const rows = table.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| Target |') && !line.startsWith('| ---'))
  return new Map(rows.map((line) => {
    const [name, , measured, verdict] = line.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, '').trim())
    return [name, { measured, verdict }]
  }))
}

t.test('bench --smoke: the report a reader knows, every section and target, with figures', async (t) => {
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

  const committed = readFileSync(path.join(BENCH, 'REPORT.md'), 'utf8')
  const report = readFileSync(path.join(out, 'REPORT.md'), 'utf8')
  t.ok(sections(committed).length >= 7, `bench/REPORT.md has ${sections(committed).length} sections`)
  // The opt-in soak is in the smoke run (so it cannot rot) but not in a plain run, which bench/REPORT.md is.
  const optIn = SCENARIOS.filter((s) => s.optIn === true)
  t.same(sections(report).filter((title) => !optIn.some((s) => s.title === title)), sections(committed), 'the same sections as bench/REPORT.md, in order')
  for (const scenario of optIn) t.ok(sections(report).includes(scenario.title), `the smoke report has the opt-in ${scenario.id} section too`)
  t.notMatch(report, 'Not run yet')
  t.notMatch(report, 'This scenario failed')

  const smokeTargets = targets(report)
  for (const name of targets(committed).keys()) {
    const row = smokeTargets.get(name)
    if (row === undefined) {
      t.fail(`target missing from the smoke report: ${name}`)
      continue
    }
    t.match(row.verdict, /^(met|\*\*missed\*\*)$/, `${name}: a verdict (${row.verdict})`)
    t.ok(/\d/.test(row.measured) && !/NaN|Infinity|undefined/.test(row.measured), `${name}: a figure (${row.measured})`)
  }

  // The results files the README points readers to, each with figures (fewer in a smoke run), every one a number.
  const committedResults = readdirSync(path.join(BENCH, 'results')).filter((f) => f.endsWith('.json') && f !== 'run.json')
  for (const file of [...new Set([...committedResults, ...optIn.map((s) => `${s.id}.json`)])]) {
    const id = file.replace(/\.json$/, '')
    const result = readJson<ScenarioResult | FailedScenario>(path.join(out, file))
    if ('error' in result) {
      t.fail(`${id} failed: ${result.error}`)
      continue
    }
    t.ok(result.figures.length > 0, `${id}: figures, as in bench/results/${file}`)
    for (const figure of result.figures) t.ok(Number.isFinite(figure.value), `${id}: ${figure.name} = ${figure.value} ${figure.unit}`)
    t.match(readFileSync(path.join(out, 'charts', `${id}.svg`), 'utf8'), /^<svg/, `${id}: chart rendered`)
  }
})
