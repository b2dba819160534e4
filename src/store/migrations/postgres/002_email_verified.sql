-- Email verification (issue #8): existing accounts start unverified, as nobody has proved their address yet.
-- A constant default makes this a catalogue-only change (PostgreSQL 11+): no table rewrite, no long lock.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
