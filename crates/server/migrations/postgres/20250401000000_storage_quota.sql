-- Per-account storage quota. Comments on the SQLite twin apply.
ALTER TABLE users ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE users SET stored_bytes = (SELECT COALESCE(SUM(octet_length(payload)), 0) FROM notes WHERE notes.user_id = users.id);
