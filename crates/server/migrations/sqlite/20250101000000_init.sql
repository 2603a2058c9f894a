-- Outpost sync server schema, SQLite flavour. Never edit an applied
-- migration: add a new file instead.

-- One row per account. `seq` is the per-user change counter: a push bumps it
-- in the same transaction that writes the change, so changes get numbers in
-- commit order and a pull can never pass a change that commits later.
CREATE TABLE users (
    id          BLOB PRIMARY KEY NOT NULL,        -- UUID, 16 bytes
    username    TEXT NOT NULL UNIQUE,
    auth_hash   TEXT NOT NULL,                    -- Argon2id PHC string of the client's auth key
    wrapped_key BLOB NOT NULL,                    -- data key wrapped by the client: opaque
    kdf_params  BLOB NOT NULL,                    -- client KDF salt/params: opaque
    seq         INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL
) STRICT;

-- Sessions by SHA-256 of the bearer token: a copy of this table lets no one
-- act as a user.
CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id);

-- Single-use log-in challenges (refuse a replayed log-in request).
CREATE TABLE login_challenges (
    challenge   BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX login_challenges_by_user ON login_challenges(user_id);

-- The latest version of each note. A pull wants the latest version of each
-- note changed since its cursor, so one row per note is all it reads.
CREATE TABLE notes (
    user_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note_id     BLOB NOT NULL,
    rev         INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    hlc         TEXT NOT NULL,                    -- Hlc text form, 38 chars
    deleted     INTEGER NOT NULL,                 -- 0/1; tombstones are kept
    payload     BLOB NOT NULL,                    -- ciphertext: never parsed
    PRIMARY KEY (user_id, note_id)
) STRICT;
CREATE UNIQUE INDEX notes_by_seq ON notes(user_id, seq);

-- Every applied op id and the answer it got, so a resent op gets the same
-- answer and changes nothing.
CREATE TABLE ops (
    user_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    op_id       BLOB NOT NULL,
    note_id     BLOB NOT NULL,
    rev         INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (user_id, op_id)
) STRICT;
