-- Outpost sync server schema, PostgreSQL flavour. Never edit an applied
-- migration: add a new file instead. Comments on the SQLite twin apply.

CREATE TABLE users (
    id          UUID PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    auth_hash   TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    kdf_params  BYTEA NOT NULL,
    seq         BIGINT NOT NULL DEFAULT 0,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE login_challenges (
    challenge   BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX login_challenges_by_user ON login_challenges(user_id);

CREATE TABLE notes (
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note_id     UUID NOT NULL,
    rev         BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    hlc         TEXT NOT NULL,
    deleted     BOOLEAN NOT NULL,
    payload     BYTEA NOT NULL,
    PRIMARY KEY (user_id, note_id)
);
CREATE UNIQUE INDEX notes_by_seq ON notes(user_id, seq);

CREATE TABLE ops (
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    op_id       UUID NOT NULL,
    note_id     UUID NOT NULL,
    rev         BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (user_id, op_id)
);

-- Payloads are ciphertext: TOAST's compression would burn CPU for nothing.
ALTER TABLE notes ALTER COLUMN payload SET STORAGE EXTERNAL;
