-- Token hashes of the sessions of deleted accounts. Comments on the SQLite
-- twin apply.
CREATE TABLE deleted_sessions (
    token_hash  BYTEA PRIMARY KEY,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX deleted_sessions_by_expiry ON deleted_sessions(expires_ms);
