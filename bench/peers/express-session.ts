// Stateful baseline for scenario 3: Express 5 + express-session with its default MemoryStore.
// POST /login { sub } creates a session (Set-Cookie); GET /whoami answers from the session.
import express from 'express'
import session from 'express-session'
import { peerSettings, required } from './settings'

declare module 'express-session' {
  interface SessionData { user: { sub: string, role: string } }
}

const settings = peerSettings()
const sessions = session({
  secret: required('BENCH_SESSION_SECRET'),
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: 'lax' }
})

const app = express()
app.get('/health/live', (_req, res) => { res.json({ status: 'ok' }) })
app.post('/login', express.json(), sessions, (req, res) => {
  const { sub } = req.body as { sub: string }
  req.session.user = { sub, role: 'user' }
  res.json({ sub })
})
app.get('/whoami', sessions, (req, res) => {
  const user = req.session.user
  if (user === undefined) {
    res.status(401).json({ code: 'ERR_AUTH_REQUIRED' })
    return
  }
  res.json(user)
})
app.listen(settings.port, settings.host, (err?: Error) => { if (err !== undefined) throw err })
