// The canonical base64url check against its definition: decoding and re-encoding gives the text back.
import t from 'tap'
import { isCanonicalCompactJws } from '../../src/tokens/compact-jws'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const roundTrips = (segment: string): boolean =>
  /^[A-Za-z0-9_-]*$/.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment
/** A segment in the middle of a token: the header and signature around it are canonical. */
const asPayload = (segment: string): string => `eyJhbGciOiJFZERTQSJ9.${segment}.AAAA`

t.test('every segment of 1 to 3 characters, alone and after a full group, agrees with the round-trip definition', async (t) => {
  // Canonical-ness depends only on the length mod 4 and the last character, so this covers every case.
  let checked = 0
  let disagreements: string[] = []
  const visit = (segment: string): void => {
    for (const s of [segment, `AbC-${segment}`]) {
      checked++
      if (isCanonicalCompactJws(asPayload(s)) !== roundTrips(s)) disagreements.push(s)
    }
  }
  for (const a of ALPHABET) {
    visit(a)
    for (const b of ALPHABET) {
      visit(a + b)
      for (const c of ALPHABET) visit(a + b + c)
    }
  }
  disagreements = disagreements.slice(0, 10)
  t.same(disagreements, [], `${checked} segments checked`)
})

t.test('characters outside base64url, padding and the wrong number of segments are refused', async (t) => {
  t.ok(isCanonicalCompactJws(asPayload('')), 'an empty segment round-trips (the verifier refuses it later)')
  t.ok(isCanonicalCompactJws(asPayload('eyJzdWIiOiJ4In0')))
  for (const segment of ['eyJzdWIiOiJ4In0=', 'eyJz+WIiOiJ4In0', 'eyJz/WIiOiJ4In0', 'eyJz WIiOiJ4In0', 'eyJzdWIiOiJ4In0\n', 'eyJzdWIiOiJ4Iné']) {
    t.notOk(isCanonicalCompactJws(asPayload(segment)), JSON.stringify(segment))
  }
  for (const token of ['a.b', 'AAAA', 'AAAA.AAAA.AAAA.AAAA', 'AAAA.AAAA.AAAA.AAAA.AAAA', '']) {
    t.notOk(isCanonicalCompactJws(token), JSON.stringify(token))
  }
})
