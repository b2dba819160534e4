// Peer for scenario 2: Express 5 + express-jwt (jsonwebtoken underneath), HS256; GET /whoami.
import express from 'express'
import { expressjwt, type Request as JwtRequest } from 'express-jwt'
import { peerSettings, required, whoami, type AccessClaims } from './settings'

const settings = peerSettings()
const app = express()
app.get('/health/live', (_req, res) => { res.json({ status: 'ok' }) })
app.get('/whoami', expressjwt({
  secret: required('BENCH_VERIFY_KEY'),
  algorithms: ['HS256'],
  issuer: settings.issuer,
  audience: settings.audience
}), (req: JwtRequest, res) => {
  res.json(whoami(req.auth as AccessClaims))
})
app.listen(settings.port, settings.host, (err?: Error) => { if (err !== undefined) throw err })
