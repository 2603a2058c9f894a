-- Attached files (issue 15). Comments on the SQLite twin apply.
CREATE TABLE files (
    user_id          UUID NOT NULL REFERENCES users(id),
    file_id          BYTEA NOT NULL,
    chunk_count      BIGINT NOT NULL,
    size             BIGINT NOT NULL,
    stored           BIGINT NOT NULL DEFAULT 0,
    manifest         BYTEA NOT NULL,
    created_ms       BIGINT NOT NULL,
    unreferenced_ms  BIGINT,
    PRIMARY KEY (user_id, file_id)
);

CREATE TABLE file_chunks (
    user_id  UUID NOT NULL,
    file_id  BYTEA NOT NULL,
    idx      BIGINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (user_id, file_id, idx)
);
-- Ciphertext does not compress: store it as it is.
ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE file_refs (
    user_id  UUID NOT NULL,
    file_id  BYTEA NOT NULL,
    note_id  UUID NOT NULL,
    PRIMARY KEY (user_id, file_id, note_id)
);

CREATE TABLE file_usage (
    user_id  UUID PRIMARY KEY REFERENCES users(id),
    bytes    BIGINT NOT NULL
);
