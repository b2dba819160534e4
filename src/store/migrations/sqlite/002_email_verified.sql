-- Email verification (issue #8): existing accounts start unverified, as nobody has proved their address yet.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));
