-- Outpost local store, schema version 1.
-- Every note field that carries user content is ciphertext (see crypto.rs):
-- title, body and meta (tags, pinned, times) are sealed separately so the
-- list view decrypts only titles. Plaintext columns hold only what sorting
-- and syncing need: ids, clock stamps, revisions, flags, times.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- How the data key (DEK) of this store is unlocked. One row per method.
-- `wrapped` is the DEK sealed with a passphrase-derived key (passphrase
-- method only); `kdf` holds the Argon2id salt and parameters; `check_blob`
-- is a constant sealed with the DEK, which proves an unlocked key is this
-- store's key before anything is written with it.
CREATE TABLE keys (
    key_id     INTEGER NOT NULL,
    method     TEXT NOT NULL CHECK (method IN ('keyring', 'passphrase', 'memory')),
    wrapped    BLOB,
    kdf        TEXT,
    check_blob BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, method)
) STRICT;

-- Small columns first, body last: reading titles never walks the body's
-- overflow pages.
CREATE TABLE notes (
    id         BLOB PRIMARY KEY,          -- UUIDv7, 16 bytes
    hlc        TEXT NOT NULL,             -- stamp of the last change
    pinned     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,          -- ms since epoch
    updated_at INTEGER NOT NULL,          -- ms since epoch
    server_rev INTEGER,                   -- NULL until the server has it
    deleted    INTEGER NOT NULL DEFAULT 0,-- tombstone
    title      BLOB NOT NULL,
    meta       BLOB NOT NULL,
    body       BLOB NOT NULL
) STRICT;
CREATE INDEX notes_list ON notes (deleted, pinned DESC, updated_at DESC);

-- The last version both this device and the server agreed on, per note:
-- the base of three-way merges.
CREATE TABLE merge_base (
    note_id BLOB PRIMARY KEY REFERENCES notes (id) ON DELETE CASCADE,
    rev     INTEGER NOT NULL,
    hlc     TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    title   BLOB NOT NULL,
    meta    BLOB NOT NULL,
    body    BLOB NOT NULL
) STRICT;

-- Local changes not yet acknowledged by the server. An entry holds the
-- sealed snapshot it will send; unsent edits of one note coalesce into its
-- one `pending` entry with attempts = 0. Once an entry has been attempted
-- its op id may already be committed on the server, so it is frozen and a
-- later edit gets a new entry.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           BLOB NOT NULL UNIQUE,       -- idempotency key, UUIDv7
    note_id         BLOB NOT NULL,
    hlc             TEXT NOT NULL,
    base_rev        INTEGER,                    -- fixed at first send
    deleted         INTEGER NOT NULL DEFAULT 0,
    title           BLOB NOT NULL,
    meta            BLOB NOT NULL,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    coalesced       INTEGER NOT NULL DEFAULT 0, -- edits folded into this entry
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_note ON outbox (note_id, state, attempts);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Overlapping edits that need a person. Both sides are kept, sealed.
CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id     BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    base_hlc    TEXT,
    base_body   BLOB,
    local_hlc   TEXT NOT NULL,
    local_body  BLOB NOT NULL,
    remote_hlc  TEXT NOT NULL,
    remote_rev  INTEGER NOT NULL,
    remote_body BLOB NOT NULL,
    opened_at   INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT CHECK (resolution IN ('mine', 'theirs', 'merged'))
) STRICT;
CREATE INDEX conflicts_open ON conflicts (note_id) WHERE resolved_at IS NULL;
