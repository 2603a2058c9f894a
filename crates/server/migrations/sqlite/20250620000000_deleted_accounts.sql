-- Account deletion (`POST /v1/account/delete`) removes every row of the
-- account. What it leaves is this: the SHA-256 hashes of the tokens of the
-- sessions it ended, with when each would have expired, so another device
-- of the deleted account is answered `410 account_deleted` (and stops for
-- good, keeping its notes) instead of a `401` that would ask it to log in
-- again. No user id, no username: a hash of a random token says nothing
-- about whose it was, and the name is free to register again. A row goes
-- once its session would have expired (the token would be refused then
-- anyway), at the next account deletion.
CREATE TABLE deleted_sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX deleted_sessions_by_expiry ON deleted_sessions(expires_ms);
