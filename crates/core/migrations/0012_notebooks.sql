-- Outpost local store, schema version 12: notebooks.
--
-- A notebook is a record of the note stream like a note (same table, same
-- sealing, same outbox and sync); what it is lives in its sealed meta, so
-- the server cannot tell the two apart. `kind` repeats it here in
-- plaintext on the device (0 note, 1 notebook), so the list, counts and
-- search leave notebooks out without decrypting anything; it is written
-- from the sealed meta whenever a record is stored. The list index leads
-- with it, so listing notes or notebooks still walks the index alone.
ALTER TABLE notes ADD COLUMN kind INTEGER NOT NULL DEFAULT 0 CHECK (kind IN (0, 1));
DROP INDEX notes_list;
CREATE INDEX notes_list ON notes (deleted, kind, pinned DESC, updated_at DESC, id, hlc, title, trashed_at);
