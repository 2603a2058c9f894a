-- Per-account storage quota: the bytes of note payloads an account keeps
-- (the latest version of each note, tombstones included), kept on the
-- user's row and updated in each push's transaction, so checking a push
-- against the quota reads one row instead of summing the notes.
ALTER TABLE users ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE users SET stored_bytes = (SELECT COALESCE(SUM(length(payload)), 0) FROM notes WHERE notes.user_id = users.id);
