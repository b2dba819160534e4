-- Security events (issue #17): an append-only record per account, read by its owner and administrators, deleted only
-- by the retention purge (SECURITY_EVENTS_RETENTION). No foreign key to users: the record of an account, its
-- deletion included, outlives it until the purge. (005 is another change's number: each version is applied on its own.)
CREATE TABLE security_events (
  -- UUIDv7 in Crockford base32, like user ids: text order is creation order, newest first is id DESC.
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (length(type) <= 40),
  -- ISO-8601 with milliseconds, from the application clock.
  created_at TEXT NOT NULL,
  ip TEXT CHECK (length(ip) <= 64),
  device_name TEXT CHECK (length(device_name) <= 100),
  session_id TEXT CHECK (length(session_id) <= 64),
  actor_id TEXT CHECK (length(actor_id) <= 64),
  detail TEXT CHECK (length(detail) <= 100)
) STRICT, WITHOUT ROWID;

-- A user's events newest first (the only read), and the purge by age.
CREATE INDEX security_events_user_id ON security_events (user_id, id);
CREATE INDEX security_events_created_at ON security_events (created_at);
