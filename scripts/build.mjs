// `npm run build`: compile src/ into dist/ with tsc (tsconfig.build.json), then mirror every other file under src/
// (the SQL migrations, which the stores read from their own directory) and drop what src/ no longer has.
// Nothing happens while dist/ is newer than all its inputs, so prestart, precli and tap's `before` run it every
// time: `npm start` on a fresh clone builds once, later starts cost a directory walk, not a 3 s compiler run.
// `--force` builds anyway.
// Plain JavaScript on purpose: building must not need tsx, and a deployment may have no dev dependencies at all.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SRC = path.join(ROOT, 'src')
const DIST = path.join(ROOT, 'dist')
/** Written when a build succeeds, with its mtime set to the moment the build started reading src/. */
const STAMP = path.join(DIST, '.build-stamp')
/** tsc's incremental state (tsconfig.build.json): a rebuild after a small change re-emits only what changed. */
const BUILD_INFO = path.join(DIST, '.tsbuildinfo')
const CONFIG_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'].map((file) => path.join(ROOT, file))

/** Every file and directory below `dir` (directories count: deleting a file changes its directory's mtime). */
function walk (dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? [full, ...walk(full)] : [full]
  })
}

function isStale () {
  // A deployment may ship dist/ without src/: nothing to compare with.
  if (!existsSync(SRC)) return !existsSync(path.join(DIST, 'server.js'))
  if (!existsSync(STAMP)) return true
  const built = statSync(STAMP).mtimeMs
  return [SRC, ...walk(SRC), ...CONFIG_INPUTS].some((file) => statSync(file).mtimeMs > built)
}

function fail (message) {
  process.stderr.write(`build: ${message}\n`)
  process.exit(1)
}

/** `mayRunExisting`: without a compiler, an existing dist/ is run as it is (warned) rather than refused. */
function compile (mayRunExisting) {
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    // An install with --omit=dev has no compiler: it runs the dist/ it was shipped with.
    if (mayRunExisting && existsSync(path.join(DIST, 'server.js'))) {
      process.stderr.write('build: TypeScript is not installed (a dev dependency): running the existing dist/ as it is\n')
      process.exit(0)
    }
    fail('TypeScript (a dev dependency) is not installed, and dist/ needs building: run `npm install`, or ship dist/ built elsewhere with `npm run build`')
  }
  // A caller's loaders (tap's, tsx) have no business in the compiler; stdin stays with the command that follows
  // (`printf … | npm run cli -- users create --password-stdin`).
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) fail(`tsc -p tsconfig.build.json failed (${result.status ?? result.signal})`)
}

/** The file under src/ that `distFile` comes from: x.js ← x.ts, anything else ← itself. */
function sourceOf (distFile) {
  const rel = path.relative(DIST, distFile)
  return path.join(SRC, rel.endsWith('.js') ? rel.slice(0, -3) + '.ts' : rel)
}

function mirrorAssets () {
  for (const file of walk(SRC)) {
    if (file.endsWith('.ts') || statSync(file).isDirectory()) continue
    const target = path.join(DIST, path.relative(SRC, file))
    mkdirSync(path.dirname(target), { recursive: true })
    copyFileSync(file, target)
  }
  // A migration or module deleted from src/ must not live on in dist/: the stores apply every .sql they find.
  for (const file of walk(DIST)) {
    if (file === STAMP || file === BUILD_INFO || statSync(file).isDirectory()) continue
    if (!existsSync(sourceOf(file))) rmSync(file)
  }
}

const force = process.argv.includes('--force')
if (force || isStale()) {
  const started = new Date()
  compile(!force)
  mirrorAssets()
  writeFileSync(STAMP, `${started.toISOString()}\n`)
  utimesSync(STAMP, started, started)
  process.stderr.write(`build: dist/ built in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s\n`)
}
