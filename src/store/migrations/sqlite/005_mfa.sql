-- Two-factor sign-in (issue #16). The secrets are sealed by the application (AES-256-GCM): only ciphertext here.
-- mfa_secret not null means two-factor sign-in is on.
ALTER TABLE users ADD COLUMN mfa_secret TEXT;
ALTER TABLE users ADD COLUMN mfa_pending_secret TEXT;
-- The last TOTP time step accepted: a code is accepted once.
ALTER TABLE users ADD COLUMN mfa_last_step INTEGER;
-- Moves on with every accepted second factor: the mfaToken carries it, so a used one is dead.
ALTER TABLE users ADD COLUMN mfa_counter INTEGER NOT NULL DEFAULT 0;

-- Keyed hashes (HMAC-SHA-256) of the unused recovery codes; a used one is deleted.
CREATE TABLE mfa_recovery_codes (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;
