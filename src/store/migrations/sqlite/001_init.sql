-- Users table: the whole schema of the first release.
CREATE TABLE users (
  id TEXT PRIMARY KEY NOT NULL,
  -- NOCASE so the unique index (and lookups) ignore case even if a caller skips normalisation.
  email TEXT NOT NULL COLLATE NOCASE,
  name TEXT,
  role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  password_hash TEXT NOT NULL,
  token_version INTEGER NOT NULL DEFAULT 0,
  -- ISO-8601 with milliseconds, written from the application clock.
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email_key ON users (email);
