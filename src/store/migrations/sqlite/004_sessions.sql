-- Sessions (issue #14): one row per login, read at login, refresh and logout, and by hybrid mode's check; it
-- replaces the revoked_sessions denylist, so switching REVOCATION_MODE never revives a session that ended.
-- WITHOUT ROWID: the text key is the table's own b-tree, not a second index beside a rowid table.
CREATE TABLE sessions (
  -- The tokens' sid: 16 base64url characters, minted by the application.
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- Times are ISO-8601 with milliseconds (as in users), written from the application clock: text order is time order.
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  -- Seconds, as in the tokens' auth_time.
  auth_time INTEGER NOT NULL,
  expires_at TEXT NOT NULL,
  counter INTEGER NOT NULL DEFAULT 0,
  superseded_at TEXT,
  ended_at TEXT,
  end_reason TEXT,
  device_name TEXT CHECK (length(device_name) <= 100),
  created_ip TEXT CHECK (length(created_ip) <= 64),
  last_ip TEXT CHECK (length(last_ip) <= 64),
  CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) STRICT, WITHOUT ROWID;

-- A user's sessions (listing, eviction, ending them all), and the cascade when the user is deleted. Not ordered by
-- last_used_at: a user has a handful of rows to sort, and an index on it would be rewritten by every refresh.
CREATE INDEX sessions_user_id ON sessions (user_id);
-- The purge: when a row ended, or expired if sooner. Queries repeat this exact expression to use the index.
CREATE INDEX sessions_done_at ON sessions (min(coalesce(ended_at, expires_at), expires_at));

-- Sessions logged out in hybrid mode become ended rows, so they stay refused. What the denylist never knew (login
-- and auth time) reads as this migration's time, which also starts the purge countdown: every token of such a session
-- was issued before now. Rows of users deleted since are dropped: their tokens are refused by the missing user.
INSERT INTO sessions (id, user_id, created_at, last_used_at, auth_time, expires_at, ended_at, end_reason)
SELECT r.sid, r.user_id, m.now, m.now, CAST(strftime('%s', 'now') AS INTEGER), r.expires_at, m.now, 'logout'
FROM revoked_sessions AS r
CROSS JOIN (SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS now) AS m
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = r.user_id);

DROP TABLE revoked_sessions;
