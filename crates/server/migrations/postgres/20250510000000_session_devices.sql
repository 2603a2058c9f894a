-- Sessions a user can see and end one by one. Comments on the SQLite twin
-- apply. A volatile default is evaluated per existing row, so every
-- session made before this gets its own random id.
ALTER TABLE sessions ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE sessions ALTER COLUMN id DROP DEFAULT;
ALTER TABLE sessions ADD CONSTRAINT sessions_id_unique UNIQUE (id);
ALTER TABLE sessions ADD COLUMN device_name TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_ms BIGINT;
UPDATE sessions SET last_seen_ms = created_ms;
ALTER TABLE sessions ALTER COLUMN last_seen_ms SET NOT NULL;
