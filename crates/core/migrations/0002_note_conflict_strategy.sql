-- Outpost local store, schema version 2: per-note conflict strategy.
-- NULL follows the app-wide setting (settings.conflict_strategy); a value
-- overrides it for this note. Not note content: safe in plaintext.
ALTER TABLE notes ADD COLUMN conflict_strategy TEXT
    CHECK (conflict_strategy IN ('auto_merge', 'last_writer_wins', 'always_ask'));
