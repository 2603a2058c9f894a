-- Outpost local store, schema version 9: note history and the trash.
--
-- `notes.trashed_at`: when the note was moved to the trash (ms since the
-- epoch), NULL when it is not in the trash. The same value is sealed in
-- the note's `meta` (which is what syncs); this column is its plaintext
-- mirror for the list and the trash view, like `pinned`. The list index
-- carries it last, so the list still walks the index alone.
--
-- `versions`: every version of a note this device saw (its own saves,
-- coalesced per burst; every version pulled from another device; merge
-- results and both of their inputs; last-writer-wins losers; restores),
-- kept as the three sealed fields exactly as they were sealed, under the
-- version's own stamp: the ciphertext is bound to the note id and to the
-- stamp, which is the version's id. Local only: versions do not sync.
ALTER TABLE notes ADD COLUMN trashed_at INTEGER;
DROP INDEX notes_list;
CREATE INDEX notes_list ON notes (deleted, pinned DESC, updated_at DESC, id, hlc, title, trashed_at);

CREATE TABLE versions (
    note_id    BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    hlc        TEXT NOT NULL,
    why        TEXT NOT NULL
        CHECK (why IN ('edit', 'merge', 'remote', 'restore', 'lww_loser', 'merge_input', 'trash', 'untrash')),
    started_at INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    title      BLOB NOT NULL,
    meta       BLOB NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (note_id, hlc)
) STRICT;
CREATE INDEX versions_hlc ON versions (hlc);
