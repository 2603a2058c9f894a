-- Outpost local store, schema version 10: attached files (issue 15).
--
-- `files`: every file this device knows, added here or learnt from the
-- server; its manifest (name, type, size) sealed. `state`: `upload` (added
-- here, chunks still to send), `synced` (the server holds it all),
-- `remote` (learnt from the server; chunks come when asked), `removing`
-- (the user removed it; the server is still to be told).
-- `want`: the chunks are to be downloaded (asked for, or kept on this
-- device). `last_used`: eviction takes the least recently used first.
CREATE TABLE files (
    id          BLOB PRIMARY KEY,
    manifest    BLOB NOT NULL,
    chunk_count INTEGER NOT NULL,
    sealed_size INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('upload', 'synced', 'remote', 'removing')),
    want        INTEGER NOT NULL DEFAULT 0,
    last_used   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Sealed chunks (as on the server): the upload queue of files added here,
-- and the cache of downloaded ones. `sent`: the server holds it.
CREATE TABLE file_chunks (
    file_id BLOB NOT NULL,
    idx     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    sent    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (file_id, idx)
) STRICT;

-- Which notes reference which files; `declared`: the server was told.
CREATE TABLE note_files (
    note_id  BLOB NOT NULL,
    file_id  BLOB NOT NULL,
    declared INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (note_id, file_id)
) STRICT;
CREATE INDEX note_files_by_file ON note_files (file_id);
