// npm run bench: every scenario of issue #6, each target server in its own process, then REPORT.md.
//   npm run bench [-- --only id,id] [--banner TEXT] [--out DIR] [--report-only]    BENCH_SCALE=0.2 cuts durations
//   npm run bench -- --only soak [--out DIR]   the opt-in 10-minute soak (not part of a plain run)
//   npm run bench:smoke [-- --out DIR]   every scenario for about a second, results in a temporary directory
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { budgetS, estimateMinutes, writeReport, type RunMeta } from './report/report'
import { buildTessera } from './lib/processes'
import type { BenchContext, FailedScenario, Scenario, ScenarioResult } from './lib/scenario'
import { DEFAULT_SCENARIOS, SCENARIOS } from './scenarios'

interface Args { smoke: boolean, only: string[] | null, banner: string | undefined, out: string | undefined, reportOnly: boolean }

function parseArgs (argv: string[]): Args {
  const args: Args = { smoke: false, only: null, banner: undefined, out: undefined, reportOnly: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    if (arg === '--smoke') args.smoke = true
    else if (arg === '--report-only') args.reportOnly = true
    else if (arg === '--only') args.only = value().split(',').map((s) => s.trim())
    else if (arg === '--banner') args.banner = value()
    else if (arg === '--out') args.out = path.resolve(value())
    else throw new Error(`unknown argument ${arg}`)
  }
  const unknown = (args.only ?? []).filter((id) => !SCENARIOS.some((s) => s.id === id))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.id).join(', ')})`)
  return args
}

function parseScale (raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1
  const scale = Number(raw)
  if (!Number.isFinite(scale) || scale <= 0 || scale > 10) throw new Error(`BENCH_SCALE must be a number in (0, 10], got ${raw}`)
  return scale
}

const cpuModel = (): string => os.cpus()[0]?.model.trim() ?? 'unknown CPU'

async function main (): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const scale = args.smoke ? 1 : parseScale(process.env.BENCH_SCALE)
  const benchDir = __dirname
  const outDir = args.out ?? (args.smoke ? mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-smoke-')) : path.join(benchDir, 'results'))
  const inBench = args.out === undefined && !args.smoke
  const paths = {
    resultsDir: outDir,
    chartsDir: inBench ? path.join(benchDir, 'charts') : path.join(outDir, 'charts'),
    reportFile: inBench ? path.join(benchDir, 'REPORT.md') : path.join(outDir, 'REPORT.md'),
    banner: args.banner
  }
  mkdirSync(outDir, { recursive: true })

  const t0 = performance.now()
  const log = (message: string): void => { process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`) }
  let failed = 0

  if (!args.reportOnly) {
    const selected = args.only !== null ? SCENARIOS.filter((s) => args.only?.includes(s.id) === true) : args.smoke ? SCENARIOS : DEFAULT_SCENARIOS
    // Planned seconds on an idle 2-core machine (at BENCH_SCALE=1 for a full run).
    const estimateS = args.smoke ? 10 : selected.reduce((sum, s) => sum + s.estimateS, 0)
    const rounds = args.smoke ? 1 : 2
    const expected = args.smoke ? `about ${estimateS} s` : `a whole run at BENCH_SCALE=1 takes about ${estimateMinutes()} min`
    log(`${args.smoke ? 'smoke' : 'full'} run of ${selected.map((s) => s.id).join(', ')}; BENCH_SCALE=${scale}; on an idle 2-core machine ${expected}; results in ${outDir}`)
    buildTessera()
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-'))
    const startedAt = new Date().toISOString()
    const loadBefore = os.loadavg()
    const done: RunMeta['scenarios'] = []
    const runOne = async (scenario: Scenario): Promise<void> => {
      const ctx: BenchContext = { smoke: args.smoke, scale, rounds, tmp, log: (message) => log(`[${scenario.id}] ${message.trim()}`) }
      log(`${scenario.title}`)
      const result = await runScenario(scenario, ctx)
      if ('error' in result) {
        failed++
        log(`[${scenario.id}] FAILED: ${result.error}`)
      } else {
        for (const t of result.targets) log(`[${scenario.id}] target ${t.name} ${t.target}: ${t.measured} → ${t.met ? 'met' : 'MISSED'}`)
      }
      writeFileSync(path.join(outDir, `${scenario.id}.json`), JSON.stringify(result, null, 2) + '\n')
      done.push({ id: scenario.id, durationS: result.durationS, ok: !('error' in result) })
      log(`[${scenario.id}] ${fmtS(result.durationS)}`)
    }
    try {
      if (args.smoke) {
        // Smoke checks that every scenario still produces numbers, not the numbers: two scenarios at a time
        // (most of a smoke run is starting server processes, which a second core halves).
        const queue = [...selected]
        const lane = async (): Promise<void> => { for (let s = queue.shift(); s !== undefined; s = queue.shift()) await runOne(s) }
        await Promise.all([lane(), lane()])
      } else {
        for (const scenario of selected) await runOne(scenario)
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
    const meta: RunMeta = {
      mode: args.smoke ? 'smoke' : 'full',
      scale,
      rounds,
      command: ['node', ...process.execArgv, ...process.argv.slice(1).map((a) => path.relative(process.cwd(), a) || a)].join(' '),
      node: process.version,
      v8: process.versions.v8,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpuModel: cpuModel(),
      cpus: os.cpus().length,
      totalMemGB: os.totalmem() / 1e9,
      startedAt,
      finishedAt: new Date().toISOString(),
      durationS: (performance.now() - t0) / 1000,
      estimateS,
      loadAvg: { before: loadBefore, after: os.loadavg() },
      scenarios: done
    }
    writeFileSync(path.join(outDir, 'run.json'), JSON.stringify(meta, null, 2) + '\n')
  }

  log(`writing ${path.relative(process.cwd(), paths.reportFile) || paths.reportFile}`)
  await writeReport(paths)
  const elapsedS = (performance.now() - t0) / 1000
  log(`done in ${fmtS(elapsedS)}${failed > 0 ? `; ${failed} scenario(s) FAILED` : ''}; results in ${outDir}`)
  if (!args.smoke && !args.reportOnly && args.only === null && scale === 1 && elapsedS > budgetS()) {
    log(`WARNING: over the ${(budgetS() / 60).toFixed(1)} min a full run may take; was the machine busy? (load average now ${os.loadavg()[0].toFixed(2)})`)
  }
  return failed > 0 ? 1 : 0
}

/** Run one scenario; a failure becomes a result with `error`, so the other scenarios still run. */
async function runScenario (scenario: Scenario, ctx: BenchContext): Promise<ScenarioResult | FailedScenario> {
  const start = performance.now()
  const startedAt = new Date().toISOString()
  const before = os.loadavg()[0]
  const mode = ctx.smoke ? 'smoke' : 'full'
  try {
    const outcome = await scenario.run(ctx)
    return {
      id: scenario.id,
      title: scenario.title,
      mode,
      scale: ctx.scale,
      rounds: ctx.rounds,
      startedAt,
      durationS: (performance.now() - start) / 1000,
      loadAvg: { before, after: os.loadavg()[0] },
      ...outcome
    }
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
    return { id: scenario.id, title: scenario.title, mode, startedAt, durationS: (performance.now() - start) / 1000, error }
  }
}

const fmtS = (s: number): string => s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`

// Ctrl-C: exit through process.exit so the children are killed (see lib/processes.ts).
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
