-- The log-in second factor (TOTP, RFC 6238), at most one per account.
-- Comments on the SQLite twin apply.
CREATE TABLE account_totp (
    user_id     UUID PRIMARY KEY REFERENCES users(id),
    secret      BYTEA NOT NULL,
    enabled_ms  BIGINT,
    last_step   BIGINT
);
