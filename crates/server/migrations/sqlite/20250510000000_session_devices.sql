-- Sessions a user can see and end one by one (`GET /v1/sessions`,
-- `DELETE /v1/sessions/{id}`): each gets a public id, random and not
-- derived from the token (so listing or naming a session reveals nothing
-- that authenticates), the name the device gave at log-in, and when it was
-- last seen (written at most once a minute per session). SQLite cannot add
-- a NOT NULL UNIQUE column in place, so the table is rebuilt; sessions made
-- before this get a random version-4 id, no name, and their creation time
-- as last seen.
CREATE TABLE sessions_new (
    token_hash   BLOB PRIMARY KEY NOT NULL,
    id           BLOB NOT NULL UNIQUE,             -- UUID, public, random
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_name  TEXT,                             -- sanitized, at most 64 chars
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
) STRICT;
INSERT INTO sessions_new (token_hash, id, user_id, device_name, created_ms, last_seen_ms, expires_ms)
SELECT token_hash,
       unhex(hex(randomblob(6)) || '4' || substr(hex(randomblob(2)), 2)
             || substr('89AB', 1 + abs(random() % 4), 1) || substr(hex(randomblob(8)), 2)),
       user_id, NULL, created_ms, created_ms, expires_ms
FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_by_user ON sessions(user_id);
