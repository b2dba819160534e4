// Peer for scenario 2: Express 5 + passport-jwt (jsonwebtoken underneath), HS256 or ES256; GET /whoami.
import express from 'express'
import passport from 'passport'
import { ExtractJwt, Strategy } from 'passport-jwt'
import { peerSettings, required, whoami, type AccessClaims } from './settings'

const settings = peerSettings()
passport.use(new Strategy({
  jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
  secretOrKey: required('BENCH_VERIFY_KEY'),
  algorithms: [settings.alg as 'HS256' | 'ES256'],
  issuer: settings.issuer,
  audience: settings.audience
}, (payload: AccessClaims, done: (err: null, user: AccessClaims) => void) => { done(null, payload) }))

const app = express()
app.use(passport.initialize())
app.get('/health/live', (_req, res) => { res.json({ status: 'ok' }) })
app.get('/whoami', passport.authenticate('jwt', { session: false }), (req, res) => {
  res.json(whoami(req.user as AccessClaims))
})
app.listen(settings.port, settings.host, (err?: Error) => { if (err !== undefined) throw err })
