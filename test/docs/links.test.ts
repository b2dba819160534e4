// The documentation's links: every relative link in README.md, docs/ and the examples' READMEs resolves inside the repository.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { anchorsOf, brokenLinks, headingSlug, linksOf } from './doc-links'

const REPO_ROOT = path.resolve(__dirname, '..', '..')

function documentationFiles (): string[] {
  const docs = readdirSync(path.join(REPO_ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)
  const examples = readdirSync(path.join(REPO_ROOT, 'examples'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `examples/${entry.name}/README.md`)
    .filter((file) => readdirSync(path.join(REPO_ROOT, path.dirname(file))).includes('README.md'))
  return ['README.md', ...docs, ...examples]
}

t.test('every relative link in the documentation names an existing file and heading inside the repository', async (t) => {
  const files = documentationFiles()
  t.ok(files.includes('docs/security.md') && files.includes('docs/design.md'), `the docs/ map is read (${files.length} files)`)
  for (const file of files) {
    const broken = brokenLinks(REPO_ROOT, file)
    t.same(broken.map((b) => `${b.file}:${b.line} ${b.target}: ${b.reason}`), [], `${file}: every link resolves`)
  }
})

t.test('the README links every page of docs/', async (t) => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const targets = new Set(linksOf(readme).map((link) => link.target.split('#')[0]))
  for (const name of readdirSync(path.join(REPO_ROOT, 'docs')).filter((n) => n.endsWith('.md'))) {
    t.ok(targets.has(`docs/${name}`), `README.md links docs/${name}`)
  }
})

t.test('the checker catches what it is for', async (t) => {
  const doc = [
    '# Title',
    '## Known limits',
    '[ok](#known-limits) [file](README.md) [heading](docs/security.md#threat-model) [web](https://example.com/x)',
    '[missing file](docs/nowhere.md)',
    '[missing heading](#no-such-heading)',
    '[outside](../shared/DESIGN.md)',
    '[absolute](/etc/passwd)',
    '[scheme](file:///etc/passwd)',
    '```sh',
    '[in code](nowhere.md)',
    '```',
    '`[inline code](nowhere.md)`'
  ].join('\n')
  const broken = brokenLinks(REPO_ROOT, 'README.md', doc)
  t.same(broken.map((b) => [b.line, b.target]), [
    [4, 'docs/nowhere.md'],
    [5, '#no-such-heading'],
    [6, '../shared/DESIGN.md'],
    [7, '/etc/passwd'],
    [8, 'file:///etc/passwd']
  ], 'a missing file, a missing heading, a path outside the repository, an absolute path and a file: URL; code is ignored')
  t.match(broken[2].reason, /outside the repository/)

  t.equal(headingSlug('Hybrid revocation (opt-in)'), 'hybrid-revocation-opt-in')
  t.equal(headingSlug('Dependencies — why each is there'), 'dependencies--why-each-is-there')
  t.equal(headingSlug('When the store cannot be read: fail open, bounded'), 'when-the-store-cannot-be-read-fail-open-bounded')
  t.equal(headingSlug('`POST /v1/auth/logout`'), 'post-v1authlogout')
  t.same([...anchorsOf('## A\n## A\n<a id="x"></a>')], ['a', 'a-1', 'x'], 'duplicate headings are numbered; HTML ids count')
})
