// .env.example is the settings reference (the README links it): every variable of src/config.ts, explained, with its real default.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ConfigSchema } from '../../src/config'

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const SETTING = /^# ([A-Z][A-Z0-9_]*)=(.*)$/

const example = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8').split('\n')
const settings = example.flatMap((line, i) => {
  const match = SETTING.exec(line)
  return match === null ? [] : [{ key: match[1], value: match[2], index: i }]
})
const schema: Record<string, { default?: unknown }> = ConfigSchema.properties

t.test('.env.example lists exactly the variables of ConfigSchema, each once', async (t) => {
  t.same(settings.map((s) => s.key).sort(), Object.keys(schema).sort())
})

t.test('a comment line explains each variable', async (t) => {
  for (const { key, index } of settings) {
    const above = example[index - 1] ?? ''
    t.ok(above.startsWith('# ') && !SETTING.test(above), `${key} has a comment above it`)
  }
})

t.test('the value shown is the built-in default, as the file promises', async (t) => {
  for (const { key, value } of settings) {
    const fallback = schema[key]?.default
    // Settings without a default (secrets, URLs) show an example value instead.
    if (fallback === undefined) continue
    t.equal(value, String(fallback), `${key}=${String(fallback)}`)
  }
})

t.test('every line is a comment, so copying the file to .env changes nothing', async (t) => {
  t.same(example.filter((line) => line.trim() !== '' && !line.startsWith('#')), [])
})
