-- The log-in second factor (TOTP, RFC 6238), at most one per account.
-- `secret` is the raw shared secret (20 random bytes). It is stored as it
-- is: the server's only other secrets (`server_secrets`) live in this same
-- database, so wrapping it under one of them would not keep it from whoever
-- holds a copy of the database (SECURITY.md, "TOTP secrets").
-- `enabled_ms` is NULL while the secret is pending (set up, not confirmed
-- with a code); log-in asks for a code only once it is set.
-- `last_step` is the time step (Unix seconds / 30) of the last code
-- accepted: a code of that step or an earlier one is refused, so no code
-- is used twice.
CREATE TABLE account_totp (
    user_id     BLOB PRIMARY KEY NOT NULL REFERENCES users(id),
    secret      BLOB NOT NULL,
    enabled_ms  INTEGER,
    last_step   INTEGER
) STRICT;
