// `npm run build`: compile src/ into dist/ with tsc (tsconfig.build.json), then mirror every other file under src/
// (the SQL migrations, which the stores read from their own directory) and drop what src/ no longer has. Then bundle:
// esbuild joins dist/main.js and everything it loads at start into dist/tessera.js, and dist/server.js (what `npm start`
// runs) turns on V8's compile cache before loading it. One file instead of some 700 modules, compiled once and then
// read from the cache: that is most of a start's time (bench scenario 6).
// Nothing happens while dist/ is newer than all its inputs, so prestart, precli and tap's `before` run it every
// time: `npm start` on a fresh clone builds once, later starts cost a directory walk, not a 3 s compiler run.
// `--force` builds anyway.
// Plain JavaScript on purpose: building must not need tsx, and a deployment may have no dev dependencies at all.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
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
const CONFIG_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'package.json'].map((file) => path.join(ROOT, file))
/** The server bundled into one file (esbuild, from tsc's output), and the launcher `npm start` runs. */
const BUNDLE = path.join(DIST, 'tessera.js')
const LAUNCHER = path.join(DIST, 'server.js')
/** V8's compile cache of the bundle (module.enableCompileCache): beside the code it caches, with the same owner. */
const COMPILE_CACHE = path.join(DIST, '.compile-cache')
/** Files in dist/ that no source under src/ makes: the mirror must leave them alone. */
const BUILT_HERE = [STAMP, BUILD_INFO, BUNDLE, LAUNCHER]
/**
 * Left out of the bundle and loaded from node_modules when needed: native addons (argon2, better-sqlite3) and the
 * packages that only a setting or a first request loads: PostgreSQL, Redis, SMTP, metrics, the docs, the DPoP and
 * password-strength checks. Bundled, their code would be read at every start. A package missing here is only read in
 * vain; a native addon missing here fails the build.
 */
const EXTERNAL = [
  'argon2', 'better-sqlite3', 'pg', 'ioredis', 'nodemailer', 'prom-client', '@fastify/swagger', '@fastify/swagger-ui', 'yaml',
  'jose', '@zxcvbn-ts/language-common'
]

/** Every file and directory below `dir` (directories count: deleting a file changes its directory's mtime). */
function walk (dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? [full, ...walk(full)] : [full]
  })
}

function isStale () {
  // A deployment may ship dist/ without src/: nothing to compare with.
  if (!existsSync(SRC)) return !existsSync(LAUNCHER)
  if (![STAMP, BUNDLE, LAUNCHER].every(existsSync)) return true
  const built = statSync(STAMP).mtimeMs
  return [SRC, ...walk(SRC), ...CONFIG_INPUTS].some((file) => statSync(file).mtimeMs > built)
}

function fail (message) {
  process.stderr.write(`build: ${message}\n`)
  process.exit(1)
}

/**
 * A dev dependency the build needs (TypeScript, esbuild). An install with --omit=dev has neither: it runs the dist/ it
 * was shipped with (`mayRunExisting`, warned) rather than refusing to start.
 */
function devTool (name, specifier, mayRunExisting) {
  try {
    return createRequire(import.meta.url)(specifier)
  } catch {
    if (mayRunExisting && existsSync(LAUNCHER)) {
      process.stderr.write(`build: ${name} is not installed (a dev dependency): running the existing dist/ as it is\n`)
      process.exit(0)
    }
    fail(`${name} (a dev dependency) is not installed, and dist/ needs building: run \`npm install\`, or ship dist/ built elsewhere with \`npm run build\``)
  }
}

function compile () {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  // A caller's loaders (tap's, tsx) have no business in the compiler; stdin stays with the command that follows
  // (`printf … | npm run cli -- users create --password-stdin`).
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) fail(`tsc -p tsconfig.build.json failed (${result.status ?? result.signal})`)
}

/**
 * Tessera's own modules keep their directory in the bundle: `__dirname` in dist/store/sqlite-store.js still names
 * dist/store (where the migrations are), not dist/ where the bundle is.
 */
const ownDirname = {
  name: 'own-dirname',
  setup (build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(DIST + path.sep)) return undefined
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('__dirname')) return undefined
      const dir = path.relative(DIST, path.dirname(args.path)).split(path.sep).join('/')
      return { contents: source.replaceAll(/\b__dirname\b/g, `require('node:path').join(__dirname, ${JSON.stringify(dir)})`), loader: 'js' }
    })
  }
}

async function bundle (esbuild) {
  await esbuild.build({
    entryPoints: [path.join(DIST, 'main.js')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: EXTERNAL,
    plugins: [ownDirname],
    logLevel: 'warning'
  })
  // Written here rather than compiled from src/: under tsx (tests, `npm run openapi`) there is no bundle to load.
  writeFileSync(LAUNCHER, [
    '// Written by scripts/build.mjs: what `npm start` runs. The compile cache first, so that V8 compiles the bundle from',
    '// dist/.compile-cache after the first start (a directory it cannot write just means no cache), then the server,',
    '// bundled by esbuild from the compiled modules (dist/main.js and what it loads).',
    "'use strict'",
    `require('node:module').enableCompileCache?.(require('node:path').join(__dirname, ${JSON.stringify(path.basename(COMPILE_CACHE))}))`,
    `require('./${path.basename(BUNDLE)}')`,
    ''
  ].join('\n'))
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
    if (BUILT_HERE.includes(file) || file.startsWith(COMPILE_CACHE) || statSync(file).isDirectory()) continue
    if (!existsSync(sourceOf(file))) rmSync(file)
  }
}

const force = process.argv.includes('--force')
if (force || isStale()) {
  const started = new Date()
  devTool('TypeScript', 'typescript/package.json', !force)
  const esbuild = devTool('esbuild', 'esbuild', !force)
  compile()
  mirrorAssets()
  await bundle(esbuild)
  // A cache of the previous bundle is never read again (V8 checks the source): gone with it.
  rmSync(COMPILE_CACHE, { recursive: true, force: true })
  writeFileSync(STAMP, `${started.toISOString()}\n`)
  utimesSync(STAMP, started, started)
  process.stderr.write(`build: dist/ built in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s\n`)
}
