// Vega-Lite specs to SVG files, headless: vega's "none" renderer needs no canvas (text widths are estimated).
// An ES module because vega is ESM-only with top-level await; report.ts loads this file with a real import().
import type { TopLevelSpec } from 'vega-lite'

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 13, anchor: 'start' },
  axis: { labelFontSize: 11, titleFontSize: 11, labelLimit: 360 },
  axisX: { labelAngle: 0 },
  legend: { labelFontSize: 11, labelLimit: 360 },
  view: { stroke: null }
}

export async function renderSvg (spec: Record<string, unknown>): Promise<string> {
  const vega = await import('vega')
  const vegaLite = await import('vega-lite')
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', padding: 8, config: CONFIG, ...spec } as TopLevelSpec
  const view = new vega.View(vega.parse(vegaLite.compile(full).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
