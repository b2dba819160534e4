-- Security events (issue #17): an append-only record per account, read by its owner and administrators, deleted only
-- by the retention purge (SECURITY_EVENTS_RETENTION). No foreign key to users: the record of an account, its
-- deletion included, outlives it until the purge. (005 is another change's number: each version is applied on its own.)
CREATE TABLE security_events (
  -- UUIDv7 in Crockford base32, like user ids: text order is creation order, newest first is id DESC.
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  type text NOT NULL CHECK (char_length(type) <= 40),
  -- Written from the application clock.
  created_at timestamptz NOT NULL,
  ip text CHECK (char_length(ip) <= 64),
  device_name text CHECK (char_length(device_name) <= 100),
  session_id text CHECK (char_length(session_id) <= 64),
  actor_id text CHECK (char_length(actor_id) <= 64),
  detail text CHECK (char_length(detail) <= 100)
);

-- A user's events newest first (the only read), and the purge by age.
CREATE INDEX security_events_user_id ON security_events (user_id, id);
CREATE INDEX security_events_created_at ON security_events (created_at);
