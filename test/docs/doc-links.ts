// Finds the links of Markdown files that do not resolve: a missing file or heading, or a target outside the repository.
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

export interface BrokenLink {
  /** The Markdown file, relative to the repository root. */
  file: string
  line: number
  target: string
  reason: string
}

/** Web and mail links are not files; every other target must be a path inside the repository. */
const EXTERNAL = /^(https?:|mailto:)/i
/** A scheme (file:, ftp:, data:, …) or a drive letter: not a relative path. */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:/i

/** The text of a file with fenced code blocks blanked (line numbers kept), so code that looks like a link is ignored. */
function withoutCode (text: string): string {
  let fenced = false
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      return ''
    }
    if (fenced) return ''
    return line.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length))
  }).join('\n')
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
export function headingSlug (heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** Every anchor a Markdown text defines: its headings (duplicates numbered as GitHub does) and HTML ids. */
export function anchorsOf (markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    if (fenced) continue
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) {
      const base = headingSlug(heading[1])
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      anchors.add(n === 0 ? base : `${base}-${n}`)
    }
    for (const id of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(id[1])
  }
  return anchors
}

/** The link targets of a Markdown text with their line numbers: inline links, images, reference definitions, href/src. */
export function linksOf (markdown: string): Array<{ line: number, target: string }> {
  const links: Array<{ line: number, target: string }> = []
  withoutCode(markdown).split('\n').forEach((text, i) => {
    const patterns = [/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g, /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g, /\b(?:href|src)="([^"]+)"/g]
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) links.push({ line: i + 1, target: match[1] })
    }
  })
  return links
}

/**
 * The broken links of `file` (a path relative to `root`): relative targets must exist inside `root`, and an
 * anchor must name a heading of the Markdown file it points into.
 */
export function brokenLinks (root: string, file: string, markdown = readFileSync(path.join(root, file), 'utf8')): BrokenLink[] {
  const broken: BrokenLink[] = []
  const fileDir = path.dirname(path.join(root, file))
  for (const { line, target } of linksOf(markdown)) {
    const report = (reason: string): void => { broken.push({ file, line, target, reason }) }
    if (EXTERNAL.test(target)) continue
    if (OTHER_SCHEME.test(target)) { report('not a relative path (a scheme or a drive)'); continue }
    const hash = target.indexOf('#')
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash))
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
    if (pathPart.startsWith('/')) { report('an absolute path: outside the repository once cloned elsewhere'); continue }
    const resolved = pathPart === '' ? path.join(root, file) : path.resolve(fileDir, pathPart)
    const inside = path.relative(root, resolved)
    if (inside.startsWith('..') || path.isAbsolute(inside)) { report('points outside the repository'); continue }
    if (!existsSync(resolved)) { report('no such file'); continue }
    if (anchor === undefined || anchor === '') continue
    if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) continue
    const text = resolved === path.join(root, file) ? markdown : readFileSync(resolved, 'utf8')
    if (!anchorsOf(text).has(anchor)) report(`no heading #${anchor} in ${path.relative(root, resolved)}`)
  }
  return broken
}
