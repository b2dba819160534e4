// A tiny static server for the SPA (node:http): index.html with Tessera's URL filled in, style.css, and app.js
// bundled once at start by esbuild. It serves the page only; the browser talks to Tessera directly, cross-origin.
//
//   TESSERA_URL=http://127.0.0.1:3000 PORT=5173 node --import tsx examples/spa/server.ts
//   CORS_ORIGINS=http://127.0.0.1:5173 npm start      # Tessera must allow the page's origin
import { readFile } from 'node:fs/promises'
import { createServer, type RequestListener } from 'node:http'
import path from 'node:path'
import { build } from 'esbuild'

export interface SpaOptions {
  /** Where the page sends its API calls, e.g. http://127.0.0.1:3000 */
  tesseraUrl: string
}

const PUBLIC_DIR = path.join(__dirname, 'public')

/** src/main.ts and its imports as one ES module for the browser. */
export async function bundle (): Promise<string> {
  const result = await build({
    entryPoints: [path.join(__dirname, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent'
  })
  return result.outputFiles[0].text
}

const escapeAttribute = (value: string): string =>
  value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/**
 * The page may run its own script and style and talk to Tessera, nothing else. That narrows what an injected
 * script could do, which matters because the refresh token sits in sessionStorage (see README.md).
 */
export function contentSecurityPolicy (tesseraUrl: string): string {
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    `connect-src ${new URL(tesseraUrl).origin}`, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
  ].join('; ')
}

export async function createSpaHandler ({ tesseraUrl }: SpaOptions): Promise<RequestListener> {
  const origin = new URL(tesseraUrl).origin
  const [html, css, js] = await Promise.all([
    readFile(path.join(PUBLIC_DIR, 'index.html'), 'utf8'),
    readFile(path.join(PUBLIC_DIR, 'style.css'), 'utf8'),
    bundle()
  ])
  const page = html.replace('%TESSERA_URL%', escapeAttribute(origin))
  const files: Record<string, { body: string, type: string }> = {
    '/': { body: page, type: 'text/html; charset=utf-8' },
    '/index.html': { body: page, type: 'text/html; charset=utf-8' },
    '/style.css': { body: css, type: 'text/css; charset=utf-8' },
    '/app.js': { body: js, type: 'text/javascript; charset=utf-8' }
  }
  const security = {
    'content-security-policy': contentSecurityPolicy(origin),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache'
  }
  return (request, response) => {
    const file = request.method === 'GET' || request.method === 'HEAD'
      ? files[new URL(request.url ?? '/', 'http://localhost').pathname]
      : undefined
    if (file === undefined) {
      response.writeHead(request.method === 'GET' || request.method === 'HEAD' ? 404 : 405, { 'content-type': 'text/plain', ...security })
      response.end('not found\n')
      return
    }
    response.writeHead(200, { 'content-type': file.type, 'content-length': Buffer.byteLength(file.body), ...security })
    response.end(request.method === 'HEAD' ? undefined : file.body)
  }
}

async function main (): Promise<void> {
  const tesseraUrl = process.env.TESSERA_URL ?? 'http://127.0.0.1:3000'
  const host = process.env.HOST ?? '127.0.0.1'
  const port = Number(process.env.PORT ?? 5173)
  const server = createServer(await createSpaHandler({ tesseraUrl }))
  server.listen(port, host, () => {
    process.stdout.write(`SPA on http://${host}:${port}, talking to ${tesseraUrl}\n` +
      `Tessera must allow this origin: CORS_ORIGINS=http://${host}:${port}\n`)
  })
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`spa: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
