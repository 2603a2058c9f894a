-- Outpost local store, schema version 3: a conflict keeps the whole remote
-- version (title, meta, tombstone), not only its body, so nothing of it is
-- lost while the conflict is open.
ALTER TABLE conflicts ADD COLUMN remote_title BLOB;
ALTER TABLE conflicts ADD COLUMN remote_meta BLOB;
ALTER TABLE conflicts ADD COLUMN remote_deleted INTEGER NOT NULL DEFAULT 0;
