// What every peer server reads from its environment (set by the bench): address, algorithm, claims to check.
export interface PeerSettings {
  host: string
  port: number
  alg: 'EdDSA' | 'ES256' | 'RS256' | 'HS256'
  issuer: string
  audience: string
  /** Verification cache entries (only the Fastify peer has one); 0 means none. */
  verifyCache: number
}

export function peerSettings (): PeerSettings {
  return {
    host: process.env.HOST ?? '127.0.0.1',
    port: Number(process.env.PORT ?? 0),
    alg: (process.env.BENCH_ALG ?? 'HS256') as PeerSettings['alg'],
    issuer: process.env.BENCH_ISSUER ?? 'tessera',
    audience: process.env.BENCH_AUDIENCE ?? 'tessera-api',
    verifyCache: Number(process.env.BENCH_VERIFY_CACHE ?? 0)
  }
}

/** A variable the peer cannot run without: BENCH_VERIFY_KEY (PEM public key or HS256 secret), BENCH_SESSION_SECRET. */
export function required (name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is required`)
  return value
}

export interface AccessClaims { sub: string, role: string, iat: number, exp: number, jti: string }

/** The same body as Tessera's whoami: the verified claims, nothing else. */
export function whoami (claims: AccessClaims): AccessClaims {
  const { sub, role, iat, exp, jti } = claims
  return { sub, role, iat, exp, jti }
}
