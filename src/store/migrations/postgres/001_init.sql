-- Users table: the whole schema of the first release.
-- The runner wraps each file in its own transaction: no BEGIN/COMMIT here, and nothing that
-- cannot run inside a transaction (CREATE INDEX CONCURRENTLY).
CREATE TABLE users (
  -- "C" collation: ids are Crockford base32 in ASCII order, so bytewise order is creation
  -- order and `id > $after ORDER BY id` pages exactly as in SQLite, whatever the database locale.
  id text COLLATE "C" PRIMARY KEY,
  email text NOT NULL,
  name text,
  role text NOT NULL CHECK (role IN ('user', 'admin')),
  disabled boolean NOT NULL DEFAULT false,
  password_hash text NOT NULL,
  token_version integer NOT NULL DEFAULT 0,
  -- Written from the application clock (milliseconds), never now().
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Case-insensitive uniqueness even if a caller skips normalisation; the store maps a
-- violation of this index (by name) to EmailTakenError, and findByEmail uses it.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
