-- Outpost local store, schema version 4: merging on the client.
--
-- A conflict now keeps this device's whole version (title and meta too, not
-- only its body) and says what kind it is:
--   overlap           body edits overlapped; both are in the note between
--                     markers until the user settles it
--   confirm           merged cleanly, but the note's strategy is always-ask
--   last_writer_wins  the strategy took one side whole; the other is kept
--                     here, settled, so it can still be read
--   restored          one side deleted the note, the other edited it; the
--                     edit won and the note came back (settled at once)
ALTER TABLE conflicts ADD COLUMN kind TEXT NOT NULL DEFAULT 'overlap'
    CHECK (kind IN ('overlap', 'confirm', 'last_writer_wins', 'restored'));
ALTER TABLE conflicts ADD COLUMN local_title BLOB;
ALTER TABLE conflicts ADD COLUMN local_meta BLOB;
ALTER TABLE conflicts ADD COLUMN local_deleted INTEGER NOT NULL DEFAULT 0;

-- Pulled changes that could not be opened with this store's key (tampered,
-- or sealed under another key): skipped so the rest of sync goes on, and
-- kept here, ciphertext only, so the user is told and nothing is lost.
CREATE TABLE quarantine (
    seq        INTEGER PRIMARY KEY,   -- the server's sequence number
    note_id    BLOB NOT NULL,
    rev        INTEGER NOT NULL,
    hlc        TEXT NOT NULL,
    deleted    INTEGER NOT NULL,
    payload    BLOB NOT NULL,
    error      TEXT NOT NULL,
    at         INTEGER NOT NULL
) STRICT;
