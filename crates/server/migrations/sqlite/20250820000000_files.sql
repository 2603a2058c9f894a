-- Attached files (issue 15). Everything here is ciphertext or sizes: a
-- file's id is a keyed hash the server cannot recompute, its manifest
-- (name, type, plaintext size) and chunks are sealed by the device.
--
-- `size` is the sealed size the device declared, counted against the
-- account's file quota (`file_usage`) from the moment the file is
-- declared; `stored` is what its chunks hold so far (never above `size`).
-- `unreferenced_ms` is when garbage collection first found no live note
-- declaring the file (NULL while one does); the file and its chunks go
-- once that is older than the server's grace period.
CREATE TABLE files (
    user_id          BLOB NOT NULL REFERENCES users(id),
    file_id          BLOB NOT NULL,
    chunk_count      INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    stored           INTEGER NOT NULL DEFAULT 0,
    manifest         BLOB NOT NULL,
    created_ms       INTEGER NOT NULL,
    unreferenced_ms  INTEGER,
    PRIMARY KEY (user_id, file_id)
) STRICT;

-- The sealed chunks, as the device sent them.
CREATE TABLE file_chunks (
    user_id  BLOB NOT NULL,
    file_id  BLOB NOT NULL,
    idx      INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (user_id, file_id, idx)
) STRICT;

-- Which notes declared a file. A reference counts while its note is not a
-- tombstone on the server (or not there yet).
CREATE TABLE file_refs (
    user_id  BLOB NOT NULL,
    file_id  BLOB NOT NULL,
    note_id  BLOB NOT NULL,
    PRIMARY KEY (user_id, file_id, note_id)
) STRICT;

-- Declared sealed bytes of each account's files: the quota's counter, in
-- its own row so file uploads never take the users row pushes lock.
CREATE TABLE file_usage (
    user_id  BLOB PRIMARY KEY NOT NULL REFERENCES users(id),
    bytes    INTEGER NOT NULL
) STRICT;
