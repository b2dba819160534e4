// `npm run openapi` writes openapi.yaml from the route schemas; `npm run openapi -- --check` only compares (CI).
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { generateOpenApiYaml } from '../src/openapi'

const TARGET = path.join(__dirname, '..', 'openapi.yaml')
const USAGE = 'usage: npm run openapi [-- --check]\n'

function committed (): string | null {
  try {
    return readFileSync(TARGET, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

async function main (args: string[]): Promise<number> {
  if (args.some((a) => a !== '--check')) {
    process.stderr.write(USAGE)
    return 2
  }
  const generated = await generateOpenApiYaml()
  if (args.includes('--check')) {
    const current = committed()
    if (current === generated) {
      process.stdout.write('openapi.yaml is up to date\n')
      return 0
    }
    process.stderr.write(current === null
      ? 'openapi.yaml is missing: run `npm run openapi` and commit the file\n'
      : 'openapi.yaml differs from what the route schemas generate: run `npm run openapi` and commit the result\n')
    return 1
  }
  writeFileSync(TARGET, generated)
  process.stdout.write(`wrote ${path.relative(process.cwd(), TARGET) || TARGET}\n`)
  return 0
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`openapi: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
