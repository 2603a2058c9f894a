-- Outpost local store: the schema this build wants, declared whole.
--
-- This file is the single source of truth for the device store's schema.
-- To change the schema, edit it here, then run `outpost migrate new NAME`
-- in the repository: it writes the migration that turns what migrations
-- 1..N make into this (see CONTRIBUTING.md, "Adding a migration").
-- `outpost migrate check` fails when the migrations and this file differ.
--
-- Column order matters: SQLite's ADD COLUMN only appends, so a column put
-- anywhere but at the end of an existing table makes the generator rebuild
-- the whole table. Tables appear in the order they were first made.
--
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

-- Small columns first, body after them: reading titles never walks the
-- body's overflow pages.
CREATE TABLE notes (
    id                BLOB PRIMARY KEY,           -- UUIDv7, 16 bytes
    hlc               TEXT NOT NULL,              -- stamp of the last change
    pinned            INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,           -- ms since epoch
    updated_at        INTEGER NOT NULL,           -- ms since epoch
    server_rev        INTEGER,                    -- NULL until the server has it
    deleted           INTEGER NOT NULL DEFAULT 0, -- tombstone
    title             BLOB NOT NULL,
    meta              BLOB NOT NULL,
    body              BLOB NOT NULL,
    -- NULL follows the app-wide setting (settings.conflict_strategy); a
    -- value overrides it for this note. Not note content: safe in plaintext.
    conflict_strategy TEXT
        CHECK (conflict_strategy IN ('auto_merge', 'last_writer_wins', 'always_ask')),
    -- In the trash since (ms since epoch), NULL when not: the plaintext
    -- mirror of the `trashed_at` sealed in meta, for the list and the trash.
    trashed_at        INTEGER,
    -- 0 a note, 1 a notebook: a copy of what the sealed meta says, so lists
    -- and counts leave notebooks out without decrypting (migration 12).
    kind              INTEGER NOT NULL DEFAULT 0 CHECK (kind IN (0, 1))
) STRICT;
-- The list walks this index alone (id, stamp, pinned, time and the title
-- ciphertext), never the rows with their bodies.
CREATE INDEX notes_list ON notes (deleted, kind, pinned DESC, updated_at DESC, id, hlc, title, trashed_at);

-- The last version both this device and the server agreed on, per note:
-- the base of three-way merges. The sealed fields are NULL while the base
-- is the note's current version (same stamp): the note row holds them, and
-- they are copied here before the note row changes (migration 13; see
-- `vault::rows`). Most notes are in that state, so a pulled note is stored
-- once, not twice.
CREATE TABLE merge_base (
    note_id BLOB PRIMARY KEY REFERENCES notes (id) ON DELETE CASCADE,
    rev     INTEGER NOT NULL,
    hlc     TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    title   BLOB,
    meta    BLOB,
    body    BLOB,
    CHECK ((title IS NULL) = (meta IS NULL) AND (title IS NULL) = (body IS NULL))
) STRICT;

-- Local changes not yet acknowledged by the server. An entry holds the
-- sealed snapshot it will send; unsent edits of one note coalesce into its
-- one `pending` entry with attempts = 0. Once an entry has been attempted
-- its op id may already be committed on the server, so it is frozen and a
-- later edit gets a new entry. The sealed fields are NULL while the entry
-- is the note's current version (same stamp), as in `merge_base`.
-- `op_id` has no index (migration 16): a fresh UUIDv7 per entry, never
-- looked up alone, and a save that queues an entry writes one b-tree fewer.
-- `seq` keeps AUTOINCREMENT: a number never comes back, so one read in
-- `outpost outbox list` names that entry or none.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           BLOB NOT NULL,              -- idempotency key, UUIDv7
    note_id         BLOB NOT NULL,
    hlc             TEXT NOT NULL,
    base_rev        INTEGER,                    -- fixed at first send
    deleted         INTEGER NOT NULL DEFAULT 0,
    title           BLOB,
    meta            BLOB,
    body            BLOB,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    coalesced       INTEGER NOT NULL DEFAULT 0, -- edits folded into this entry
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((title IS NULL) = (meta IS NULL) AND (title IS NULL) = (body IS NULL))
) STRICT;
CREATE INDEX outbox_note ON outbox (note_id, state, attempts);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Overlapping edits that need a person. Both sides are kept whole (title,
-- meta, tombstone and body), sealed, so nothing of either is lost while the
-- conflict is open. `kind`:
--   overlap           body edits overlapped; both are in the note between
--                     markers until the user settles it
--   confirm           merged cleanly, but the note's strategy is always-ask
--   last_writer_wins  the strategy took one side whole; the other is kept
--                     here, settled, so it can still be read
--   restored          one side deleted the note, the other edited it; the
--                     edit won and the note came back (settled at once)
CREATE TABLE conflicts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id        BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    base_hlc       TEXT,
    base_body      BLOB,
    local_hlc      TEXT NOT NULL,
    local_body     BLOB NOT NULL,
    remote_hlc     TEXT NOT NULL,
    remote_rev     INTEGER NOT NULL,
    remote_body    BLOB NOT NULL,
    opened_at      INTEGER NOT NULL,
    resolved_at    INTEGER,
    resolution     TEXT CHECK (resolution IN ('mine', 'theirs', 'merged')),
    remote_title   BLOB,
    remote_meta    BLOB,
    remote_deleted INTEGER NOT NULL DEFAULT 0,
    kind           TEXT NOT NULL DEFAULT 'overlap'
        CHECK (kind IN ('overlap', 'confirm', 'last_writer_wins', 'restored')),
    local_title    BLOB,
    local_meta     BLOB,
    local_deleted  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX conflicts_open ON conflicts (note_id) WHERE resolved_at IS NULL;

-- Pulled changes that could not be opened with this store's key (tampered,
-- or sealed under another key): skipped so the rest of sync goes on, and
-- kept here, ciphertext only, so the user is told and nothing is lost.
CREATE TABLE quarantine (
    seq     INTEGER PRIMARY KEY,   -- the server's sequence number
    note_id BLOB NOT NULL,
    rev     INTEGER NOT NULL,
    hlc     TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    payload BLOB NOT NULL,
    error   TEXT NOT NULL,
    at      INTEGER NOT NULL
) STRICT;

-- The versions of each note this device has agreed on with a server, by
-- clock stamp. A server reset or restored from an old backup that offers
-- one of them again gets this device's newer version on top, instead of a
-- blind merge or a roll-back. Only the newest stamps of a note are kept
-- (see `vault::replica`). Plaintext: clock stamps only, no note content.
CREATE TABLE agreed_stamps (
    note_id BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    hlc     TEXT NOT NULL,
    PRIMARY KEY (note_id, hlc)
) STRICT, WITHOUT ROWID;

-- The sync monitor: one row per sync pass the engine ran (or deferred).
-- Plaintext metadata only: times, counts, byte totals and error codes,
-- never note content or titles. Bounded by the engine (the last 1,000
-- passes, at most 30 days; `crate::monitor`).
CREATE TABLE sync_passes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at     INTEGER NOT NULL,            -- ms since the Unix epoch
    duration_ms    INTEGER NOT NULL CHECK (duration_ms >= 0),
    trigger        TEXT NOT NULL CHECK (trigger IN
                     ('local_change', 'poke', 'timer', 'network_back', 'sync_now', 'retry', 'start')),
    pushed         INTEGER NOT NULL DEFAULT 0,
    pulled         INTEGER NOT NULL DEFAULT 0,
    bytes_sent     INTEGER NOT NULL DEFAULT 0,
    bytes_received INTEGER NOT NULL DEFAULT 0,
    outcome        TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'deferred')),
    error_code     TEXT,                        -- a failed pass: the error's stable code
    reason         TEXT                         -- a deferred pass: why it did not run
) STRICT;
CREATE INDEX sync_passes_started ON sync_passes (started_at);

-- Outbox entries the user told to stop trying (`outpost outbox discard`).
-- Not dropped silently: the note keeps its text on this device, and the
-- entry's sealed copy (ciphertext, as in the outbox) is kept here.
CREATE TABLE outbox_discarded (
    seq          INTEGER PRIMARY KEY,           -- the entry's outbox seq
    op_id        BLOB NOT NULL,
    note_id      BLOB NOT NULL,
    hlc          TEXT NOT NULL,
    base_rev     INTEGER,
    deleted      INTEGER NOT NULL,
    title        BLOB NOT NULL,
    meta         BLOB NOT NULL,
    body         BLOB NOT NULL,
    state        TEXT NOT NULL,                 -- pending or failed when discarded
    attempts     INTEGER NOT NULL,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    discarded_at INTEGER NOT NULL
) STRICT;

-- Server seqs of this device's own accepted pushes above the pull cursor:
-- a pull asks the server to leave them out (no echo). See migration 0008.
CREATE TABLE own_pushes (
    seq INTEGER PRIMARY KEY
) STRICT;

-- Note history (migration 0009): every version of a note this device saw,
-- as the three sealed fields exactly as sealed under the version's stamp
-- (`hlc`, the version's id, bound into the ciphertext with the note id).
-- `why`: edit (a burst of local saves, coalesced), merge (a merge result),
-- remote (from another device), restore (a version brought back),
-- lww_loser (the side last-writer-wins did not keep), merge_input (a side
-- of a merge not otherwise kept), trash, untrash. `started_at`: the first
-- save of a coalesced burst; `at`: when the version was made (its stamp's
-- wall time); `size`: bytes of the sealed fields. Local only, never synced;
-- thinned by the retention rules (`crate::history`). The sealed fields are
-- NULL for the note's current version (same stamp as the note row, which
-- holds them) and copied here when the note moves on (migration 13), so a
-- note is not stored twice and a burst of saves rewrites no version.
-- No index on `hlc` alone (dropped in migration 14): only the error for a
-- version id of another note looks a stamp up without its note, and one
-- b-tree fewer is one page fewer in every save that makes a version.
CREATE TABLE versions (
    note_id    BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    hlc        TEXT NOT NULL,
    why        TEXT NOT NULL
        CHECK (why IN ('edit', 'merge', 'remote', 'restore', 'lww_loser', 'merge_input', 'trash', 'untrash')),
    started_at INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    title      BLOB,
    meta       BLOB,
    body       BLOB,
    PRIMARY KEY (note_id, hlc),
    CHECK ((title IS NULL) = (meta IS NULL) AND (title IS NULL) = (body IS NULL))
) STRICT;
-- Attached files (migration 0010): what this device knows of each file
-- (sealed manifest; state upload, synced, remote or removing), its sealed
-- chunks (upload queue and download cache) and the notes referencing it.
CREATE TABLE files (
    id          BLOB PRIMARY KEY,              -- keyed hash of the plaintext, 32 bytes
    manifest    BLOB NOT NULL,                 -- sealed: name, type, size, chunking
    chunk_count INTEGER NOT NULL,
    sealed_size INTEGER NOT NULL,              -- sealed chunks together
    state       TEXT NOT NULL CHECK (state IN ('upload', 'synced', 'remote', 'removing')),
    want        INTEGER NOT NULL DEFAULT 0,    -- download asked for
    last_used   INTEGER NOT NULL,              -- ms; eviction order
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE file_chunks (
    file_id BLOB NOT NULL,
    idx     INTEGER NOT NULL,
    data    BLOB NOT NULL,                     -- sealed, as on the server
    sent    INTEGER NOT NULL DEFAULT 0,        -- the server holds it
    PRIMARY KEY (file_id, idx)
) STRICT;

CREATE TABLE note_files (
    note_id  BLOB NOT NULL,
    file_id  BLOB NOT NULL,
    declared INTEGER NOT NULL DEFAULT 0,       -- the server was told
    PRIMARY KEY (note_id, file_id)
) STRICT;
CREATE INDEX note_files_by_file ON note_files (file_id);
-- Data keys of the account besides the one this store is unlocked with
-- (older keys, and newer ones after a rotation), each sealed under the
-- store's own key. See migration 0011.
CREATE TABLE data_keys (
    key_id   INTEGER PRIMARY KEY,
    sealed   BLOB NOT NULL,
    added_at INTEGER NOT NULL
) STRICT;
