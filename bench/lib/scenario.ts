// What every scenario provides, and what it gets from the runner (scale, rounds, temp dirs, logging).
import { mkdtempSync } from 'node:fs'
import path from 'node:path'

export interface BenchContext {
  /** --smoke: every scenario tiny (about a second), results in a temporary directory. */
  smoke: boolean
  /** BENCH_SCALE: multiplies durations and user counts of the full run (1 = the published run). */
  scale: number
  /** How many times each comparison is repeated, interleaved (A B A B): 2, or 1 in smoke mode. */
  rounds: number
  /** This run's temporary directory; removed at the end. */
  tmp: string
  log: (message: string) => void
}

/** A full-run duration in seconds scaled by BENCH_SCALE (never under 1 s), or the smoke duration. */
export function seconds (ctx: BenchContext, full: number, smoke: number): number {
  return ctx.smoke ? smoke : Math.max(1, full * ctx.scale)
}

/** A full-run count scaled by BENCH_SCALE and rounded to a multiple of `step`, or the smoke count. */
export function count (ctx: BenchContext, full: number, smoke: number, step = 1): number {
  return ctx.smoke ? smoke : Math.max(step, Math.round((full * ctx.scale) / step) * step)
}

export function tempDir (ctx: BenchContext, name: string): string {
  return mkdtempSync(path.join(ctx.tmp, `${name}-`))
}

/** A number the report quotes and the smoke test checks. */
export interface Figure {
  name: string
  value: number
  unit: string
}

export interface TargetCheck {
  name: string
  target: string
  /** The measured figure, already formatted ("0.91 median, 0.88 min"). */
  measured: string
  met: boolean
}

export interface ScenarioOutcome {
  params: Record<string, unknown>
  /** Raw samples and derived numbers, scenario-specific; written as-is to results/<id>.json. */
  data: unknown
  figures: Figure[]
  targets: TargetCheck[]
}

export interface ScenarioResult extends ScenarioOutcome {
  id: string
  title: string
  mode: 'full' | 'smoke'
  scale: number
  rounds: number
  startedAt: string
  durationS: number
  /** 1-minute load average before and after: a busy machine shows here. */
  loadAvg: { before: number, after: number }
}

export interface FailedScenario {
  id: string
  title: string
  mode: 'full' | 'smoke'
  startedAt: string
  durationS: number
  error: string
}

export interface Scenario {
  id: string
  title: string
  /** Seconds the full run is expected to take at BENCH_SCALE=1 on an idle 2-core machine. */
  estimateS: number
  /** False when nothing is timed (token sizes): no rounds, no BENCH_SCALE. */
  timed?: boolean
  /**
   * Too long for the full run (the soak): it runs only when named (`--only soak`) and in the smoke run, and the
   * report has its section only when the last run included it.
   */
  optIn?: boolean
  /** How it measures, in Markdown (for REPORT.md). */
  method: string
  run: (ctx: BenchContext) => Promise<ScenarioOutcome>
  /** The tables of REPORT.md for this scenario. */
  markdown: (result: ScenarioResult) => string
  /** A Vega-Lite spec for bench/charts/<id>.svg. */
  chart: (result: ScenarioResult) => Record<string, unknown>
}

export const fmt = (value: number, digits = 2): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a'

export const fmtInt = (value: number): string => Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a'

/** "12 %": how far repeated measurements of one figure disagree ((max − min) ÷ median). */
export const pct = (fraction: number): string => Number.isFinite(fraction) ? `${Math.round(fraction * 100)} %` : 'n/a'
