-- Log-in start answers a username that has no account like one that has
-- (docs/protocol.md, "Unknown usernames"): fake KDF parameters derived
-- from the username under a server secret, and a real challenge.

-- Random secrets the server makes once and keeps, by name. `login_decoy`
-- keys the fake KDF parameters; it must outlive restarts, or an unknown
-- name's parameters would change on restart and give it away.
CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY NOT NULL,
    value       BLOB NOT NULL
) STRICT;

-- Challenges are now kept by username, not user id, so one for a name
-- without an account is stored like any other (the same write, the same
-- answer at finish). Challenges live 60 s: those issued before the
-- upgrade are dropped, and their devices start the log-in again.
DROP TABLE login_challenges;
CREATE TABLE login_challenges (
    challenge   BLOB PRIMARY KEY NOT NULL,
    username    TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT;
-- Expired challenges of every name are deleted at each start: by this index.
CREATE INDEX login_challenges_by_expiry ON login_challenges(expires_ms);
