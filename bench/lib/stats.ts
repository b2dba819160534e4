// Small statistics over the few repeated measurements a scenario makes (min, median, max).
export interface Spread {
  min: number
  median: number
  max: number
  values: number[]
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function spread (values: readonly number[]): Spread {
  return { min: Math.min(...values), median: median(values), max: Math.max(...values), values: [...values] }
}

/** Least-squares slope of y over x. */
export function slope (points: ReadonlyArray<{ x: number, y: number }>): number {
  const n = points.length
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.x - mx) * (p.y - my)
    den += (p.x - mx) ** 2
  }
  return den === 0 ? Number.NaN : num / den
}

/** (max − min) ÷ median: how far the repeated measurements disagree, as a fraction. */
export function disagreement (s: Spread): number {
  return (s.max - s.min) / Math.abs(s.median)
}
