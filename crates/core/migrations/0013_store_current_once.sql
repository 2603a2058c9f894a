-- Outpost local store, schema version 13: a note's current version is
-- stored once, in its note row.
-- Written by `outpost migrate new` from schema.sql, then the copies below
-- changed by hand: a row of `merge_base`, `outbox` or `versions` that holds
-- a byte-for-byte copy of its note's current version (the same stamp and
-- the same three sealed fields) keeps NULL instead; the code reads the note
-- row's fields for it and copies them into the row before the note changes
-- (`vault::rows::keep_current`). Every other row keeps its own copy.
-- Never edit this file once it has been applied anywhere; add a new one.

-- Rebuild table merge_base (SQLite's table-rebuild recipe), because:
--   - its table-level CHECK constraints change
--   - column title changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
--   - column meta changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
--   - column body changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
-- Foreign keys are not enforced while migrations run (the migrator switches them
-- off, as the recipe requires, and runs foreign_key_check before it commits), so
-- dropping the old table does not cascade to the tables that refer to it.
CREATE TABLE "_outpost_new_merge_base" (
    note_id BLOB PRIMARY KEY REFERENCES notes (id) ON DELETE CASCADE,
    rev     INTEGER NOT NULL,
    hlc     TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    title   BLOB,
    meta    BLOB,
    body    BLOB,
    CHECK ((title IS NULL) = (meta IS NULL) AND (title IS NULL) = (body IS NULL))
) STRICT;
INSERT INTO "_outpost_new_merge_base" (rowid, "note_id", "rev", "hlc", "deleted", "title", "meta", "body")
    SELECT b.rowid, b."note_id", b."rev", b."hlc", b."deleted",
        CASE WHEN n.id IS NULL THEN b."title" END, CASE WHEN n.id IS NULL THEN b."meta" END,
        CASE WHEN n.id IS NULL THEN b."body" END
    FROM "merge_base" b LEFT JOIN notes n ON n.id = b.note_id AND n.hlc = b.hlc AND n.deleted = b.deleted
        AND n.title = b.title AND n.meta = b.meta AND n.body = b.body;
DROP TABLE "merge_base";
ALTER TABLE "_outpost_new_merge_base" RENAME TO "merge_base";

-- Rebuild table outbox (SQLite's table-rebuild recipe), because:
--   - its table-level CHECK constraints change
--   - column title changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
--   - column meta changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
--   - column body changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
-- Foreign keys are not enforced while migrations run (the migrator switches them
-- off, as the recipe requires, and runs foreign_key_check before it commits), so
-- dropping the old table does not cascade to the tables that refer to it.
CREATE TABLE "_outpost_new_outbox" (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           BLOB NOT NULL UNIQUE,       -- idempotency key, UUIDv7
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
    SELECT o."seq", o."op_id", o."note_id", o."hlc", o."base_rev", o."deleted",
        CASE WHEN n.id IS NULL THEN o."title" END, CASE WHEN n.id IS NULL THEN o."meta" END,
        CASE WHEN n.id IS NULL THEN o."body" END,
        o."state", o."attempts", o."next_attempt_at", o."last_error", o."coalesced", o."created_at", o."updated_at"
    FROM "outbox" o LEFT JOIN notes n ON n.id = o.note_id AND n.hlc = o.hlc AND n.deleted = o.deleted
        AND n.title = o.title AND n.meta = o.meta AND n.body = o.body;
DELETE FROM sqlite_sequence WHERE name = '_outpost_new_outbox';
INSERT INTO sqlite_sequence (name, seq)
    SELECT '_outpost_new_outbox', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE "outbox";
ALTER TABLE "_outpost_new_outbox" RENAME TO "outbox";

-- Rebuild table versions (SQLite's table-rebuild recipe), because:
--   - its table-level CHECK constraints change
--   - column title changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
--   - column meta changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
--   - column body changes from `BLOB NOT NULL` to `BLOB`, which SQLite cannot alter in place
-- Foreign keys are not enforced while migrations run (the migrator switches them
-- off, as the recipe requires, and runs foreign_key_check before it commits), so
-- dropping the old table does not cascade to the tables that refer to it.
CREATE TABLE "_outpost_new_versions" (
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
INSERT INTO "_outpost_new_versions" (rowid, "note_id", "hlc", "why", "started_at", "at", "size", "title", "meta", "body")
    SELECT v.rowid, v."note_id", v."hlc", v."why", v."started_at", v."at", v."size",
        CASE WHEN n.id IS NULL THEN v."title" END, CASE WHEN n.id IS NULL THEN v."meta" END,
        CASE WHEN n.id IS NULL THEN v."body" END
    FROM "versions" v LEFT JOIN notes n ON n.id = v.note_id AND n.hlc = v.hlc AND n.deleted = 0
        AND n.title = v.title AND n.meta = v.meta AND n.body = v.body;
DROP TABLE "versions";
ALTER TABLE "_outpost_new_versions" RENAME TO "versions";

-- Index outbox_note.
CREATE INDEX outbox_note ON outbox (note_id, state, attempts);

-- Index versions_hlc.
CREATE INDEX versions_hlc ON versions (hlc);
