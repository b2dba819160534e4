-- Two-factor sign-in (issue #16). The secrets are sealed by the application (AES-256-GCM): only ciphertext here.
-- mfa_secret not null means two-factor sign-in is on.
ALTER TABLE users ADD COLUMN mfa_secret text;
ALTER TABLE users ADD COLUMN mfa_pending_secret text;
-- The last TOTP time step accepted: a code is accepted once.
ALTER TABLE users ADD COLUMN mfa_last_step bigint;
-- Moves on with every accepted second factor: the mfaToken carries it, so a used one is dead.
ALTER TABLE users ADD COLUMN mfa_counter integer NOT NULL DEFAULT 0;

-- Keyed hashes (HMAC-SHA-256) of the unused recovery codes; a used one is deleted.
CREATE TABLE mfa_recovery_codes (
  user_id text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, code_hash)
);
