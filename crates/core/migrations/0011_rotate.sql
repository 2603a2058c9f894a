-- Outpost local store, schema version 11: data-key rotation.
--
-- Data keys of the account besides the one this store is unlocked with
-- (older keys, and the newer one after a rotation), each sealed under the
-- store's own key (`keys::seal_key_under`), so every version ever sealed
-- stays readable. Which one new changes are sealed with, and a key sent to
-- the server by a rotation not yet confirmed, are the settings
-- `current_key_id` and `pending_key_id` (key ids are not secret: every
-- ciphertext names its key).
CREATE TABLE data_keys (
    key_id   INTEGER PRIMARY KEY,
    sealed   BLOB NOT NULL,
    added_at INTEGER NOT NULL
) STRICT;
