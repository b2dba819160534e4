// TOTP codes from an authenticator we did not write: Debian's oathtool (liboath), so a mistake shared by Tessera's
// generator and checker cannot pass. Tests pick the time step through the injectable clock and oathtool's --now.
import { execFileSync } from 'node:child_process'
import { OATHTOOL_PATH } from './services'

/** The code an RFC 6238 app shows at `atMs` for the base32 `secret` (SHA-1, 6 digits, 30 s). */
export function oathtool (secret: string, atMs: number): string {
  const at = `@${Math.floor(atMs / 1000)}`
  return execFileSync(OATHTOOL_PATH, ['--totp', '--base32', `--now=${at}`, secret], { encoding: 'utf8', timeout: 10_000 }).trim()
}

/** The secret of an otpauth:// URI, read with the WHATWG URL parser. */
export const uriSecret = (uri: string): string => new URL(uri).searchParams.get('secret') ?? ''
