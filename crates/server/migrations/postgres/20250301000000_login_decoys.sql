-- Log-in start answers a username that has no account like one that has.
-- Comments on the SQLite twin apply.

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       BYTEA NOT NULL
);

DROP TABLE login_challenges;
CREATE TABLE login_challenges (
    challenge   BYTEA PRIMARY KEY,
    username    TEXT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX login_challenges_by_expiry ON login_challenges(expires_ms);
