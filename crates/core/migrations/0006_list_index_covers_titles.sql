-- Outpost local store, schema version 6: the list reads an index, not the
-- notes table.
--
-- Listing reads id, stamp, pinned, time and the title ciphertext of every
-- live note. From the table that meant reading every row whole, bodies
-- included (about 30 MB for 10,000 notes of 2 KB), and holding those pages
-- in the page cache. With those columns in the list index, the list walks
-- the index alone (about 1.5 MB for 10,000 notes). The title stays
-- ciphertext here as in the table.
DROP INDEX notes_list;
CREATE INDEX notes_list ON notes (deleted, pinned DESC, updated_at DESC, id, hlc, title);
