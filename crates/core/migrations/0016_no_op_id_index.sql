-- Outpost local store, schema version 16: one b-tree fewer in a save that
-- queues an outbox entry.
-- Written by `outpost migrate new` from schema.sql, then commented; the
-- AUTOINCREMENT counter carried over as migration 13 does. Every row is
-- copied as it is.
-- Never edit this file once it has been applied anywhere; add a new one.
--
-- A save is one fsync'd WAL commit, and its time grows with the pages the
-- commit writes: one or more for each b-tree the save touches.
-- `outbox.op_id` loses its UNIQUE index: it is a fresh UUIDv7 per entry,
-- and no statement looks an entry up by it (entries are named by seq).
-- `seq` keeps AUTOINCREMENT: the
-- number of an entry that has left the outbox never comes back, so a
-- number the user read in `outpost outbox list` names that entry or none.

-- Rebuild table outbox (SQLite's table-rebuild recipe), because:
--   - column op_id drops UNIQUE, which SQLite cannot alter in place
-- Foreign keys are not enforced while migrations run (the migrator switches
-- them off, as the recipe requires, and runs foreign_key_check before it
-- commits).
CREATE TABLE "_outpost_new_outbox" (
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
INSERT INTO "_outpost_new_outbox" ("seq", "op_id", "note_id", "hlc", "base_rev", "deleted", "title", "meta", "body", "state", "attempts", "next_attempt_at", "last_error", "coalesced", "created_at", "updated_at")
    SELECT "seq", "op_id", "note_id", "hlc", "base_rev", "deleted", "title", "meta", "body", "state", "attempts", "next_attempt_at", "last_error", "coalesced", "created_at", "updated_at" FROM "outbox";
DELETE FROM sqlite_sequence WHERE name = '_outpost_new_outbox';
INSERT INTO sqlite_sequence (name, seq)
    SELECT '_outpost_new_outbox', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE "outbox";
ALTER TABLE "_outpost_new_outbox" RENAME TO "outbox";

-- Index outbox_note.
CREATE INDEX outbox_note ON outbox (note_id, state, attempts);
