-- Hybrid revocation (issue #9): sessions logged out one device at a time (POST /v1/auth/logout).
-- A row lives until every token of its session would have expired; expired rows are purged by the
-- application. No foreign key to users: a deleted user's tokens are refused anyway, and a logout
-- racing a deletion must not fail.
CREATE TABLE revoked_sessions (
  sid TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  -- ISO-8601 with milliseconds (as in users), so text order is time order.
  expires_at TEXT NOT NULL
) STRICT;

-- The purge deletes by expiry.
CREATE INDEX revoked_sessions_expires_at ON revoked_sessions (expires_at);
