-- Outpost local store, schema version 16: fewer pages per save.
-- Written by `outpost migrate new` from schema.sql, then commented, and
-- the discarded entries given their seq as their new id; every row is
-- copied as it is.
-- Never edit this file once it has been applied anywhere; add a new one.
--
-- A save is one fsync'd WAL commit, and its time grows with the pages the
-- commit writes: one or more for each b-tree the save touches. A save that
-- queues an outbox entry touches two fewer:
--   - `outbox.seq` loses AUTOINCREMENT, which wrote the `sqlite_sequence`
--     row in every such save;
--   - `outbox.op_id` loses its UNIQUE index: it is a fresh UUIDv7 per
--     entry, and no statement looks an entry up by it alone.
-- A new entry still takes one more than the highest seq in the table, so
-- the send order holds; but the number of an entry that has left the
-- outbox can come back. So the push records its answers by seq and op id
-- together, and `outbox_discarded` gets a key of its own instead of the
-- entry's seq.

-- Rebuild table outbox (SQLite's table-rebuild recipe), because:
--   - column seq drops AUTOINCREMENT, which SQLite cannot alter in place
--   - column op_id drops UNIQUE, which SQLite cannot alter in place
-- Dropping the old table drops its `sqlite_sequence` row too. Foreign keys
-- are not enforced while migrations run (the migrator switches them off, as
-- the recipe requires, and runs foreign_key_check before it commits).
CREATE TABLE "_outpost_new_outbox" (
    seq             INTEGER PRIMARY KEY,
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
INSERT INTO "_outpost_new_outbox" ("seq", "op_id", "note_id", "hlc", "base_rev", "deleted", "title", "meta", "body", "state", "attempts", "next_attempt_at", "last_error", "coalesced", "created_at", "updated_at")
    SELECT "seq", "op_id", "note_id", "hlc", "base_rev", "deleted", "title", "meta", "body", "state", "attempts", "next_attempt_at", "last_error", "coalesced", "created_at", "updated_at" FROM "outbox";
DROP TABLE "outbox";
ALTER TABLE "_outpost_new_outbox" RENAME TO "outbox";

-- Rebuild table outbox_discarded, because:
--   - a column id, its own key, comes first; seq, the entry's number in
--     the outbox when it was discarded, is no longer the key
-- The entries discarded so far keep their seq as their id: they were
-- numbered by AUTOINCREMENT, so no two share one, and the order is kept.
CREATE TABLE "_outpost_new_outbox_discarded" (
    id           INTEGER PRIMARY KEY,
    seq          INTEGER NOT NULL,              -- the entry's outbox seq when discarded
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
INSERT INTO "_outpost_new_outbox_discarded" ("id", "seq", "op_id", "note_id", "hlc", "base_rev", "deleted", "title", "meta", "body", "state", "attempts", "last_error", "created_at", "discarded_at")
    SELECT "seq", "seq", "op_id", "note_id", "hlc", "base_rev", "deleted", "title", "meta", "body", "state", "attempts", "last_error", "created_at", "discarded_at" FROM "outbox_discarded";
DROP TABLE "outbox_discarded";
ALTER TABLE "_outpost_new_outbox_discarded" RENAME TO "outbox_discarded";

-- Index outbox_note.
CREATE INDEX outbox_note ON outbox (note_id, state, attempts);
