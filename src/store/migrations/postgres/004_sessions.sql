-- Sessions (issue #14): one row per login, read at login, refresh and logout, and by hybrid mode's check; it
-- replaces the revoked_sessions denylist, so switching REVOCATION_MODE never revives a session that ended.
CREATE TABLE sessions (
  -- The tokens' sid: 16 base64url characters, minted by the application.
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- Written from the application clock, never now() (except by this migration, below).
  created_at timestamptz NOT NULL,
  last_used_at timestamptz NOT NULL,
  -- Seconds, as in the tokens' auth_time.
  auth_time bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  counter integer NOT NULL DEFAULT 0,
  superseded_at timestamptz,
  ended_at timestamptz,
  end_reason text,
  device_name text CHECK (char_length(device_name) <= 100),
  created_ip text CHECK (char_length(created_ip) <= 64),
  last_ip text CHECK (char_length(last_ip) <= 64),
  CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);

-- A user's sessions (listing, eviction, ending them all), and the cascade when the user is deleted. Not ordered by
-- last_used_at: a user has a handful of rows to sort, and an index on it would be rewritten by every refresh.
-- (Here that keeps a refresh a HOT update: no indexed column changes, so no index is touched.)
CREATE INDEX sessions_user_id ON sessions (user_id);
-- The purge: when a row ended, or expired if sooner (LEAST skips a null ended_at). Queries repeat this expression.
CREATE INDEX sessions_done_at ON sessions (LEAST(ended_at, expires_at));

-- Sessions logged out in hybrid mode become ended rows, so they stay refused. What the denylist never knew (login
-- and auth time) reads as this migration's time, which also starts the purge countdown: every token of such a session
-- was issued before now. Rows of users deleted since are dropped: their tokens are refused by the missing user.
INSERT INTO sessions (id, user_id, created_at, last_used_at, auth_time, expires_at, ended_at, end_reason)
SELECT r.sid, r.user_id, now(), now(), extract(epoch FROM now())::bigint, r.expires_at, now(), 'logout'
FROM revoked_sessions AS r
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = r.user_id);

DROP TABLE revoked_sessions;
