-- Outpost local store, schema version 15: every live note has its current
-- version in its history, also one written before there was a history.
-- Written by hand (rows only; the schema does not change).
-- Never edit this file once it has been applied anywhere; add a new one.
--
-- Migration 9 started the `versions` table empty. A note a store of schema
-- 8 or older held so had no version until it changed, `notes history`
-- showed it none, and its first change after the upgrade dropped the
-- version the user had seen: `rows::keep_current` copies the note row's
-- fields into its current version, and there was none to copy them into
-- (found with the stores of scripts/make-old-fixtures.sh). Each such note
-- gets that version here, as the code records one: NULL fields, since the
-- note row holds them; `edit` when the note's stamp is this device's,
-- `remote` when another device's; `at` the note's last change. Its
-- `started_at` is 0, so no save after the upgrade folds into it (however
-- recent the note's last change was, `versions::fold` sees a burst that
-- began long ago): the upgrade ends a burst, and the first edit after it
-- starts a version of its own, keeping the one from before. A note deleted
-- for good (a tombstone) has no history, as ever.
INSERT INTO versions (note_id, hlc, why, started_at, at, size, title, meta, body)
    SELECT n.id, n.hlc,
        CASE WHEN substr(n.hlc, 23) = (SELECT value FROM sync_state WHERE key = 'device_id') THEN 'edit'
             ELSE 'remote' END,
        0, n.updated_at, length(n.title) + length(n.meta) + length(n.body), NULL, NULL, NULL
    FROM notes n
    WHERE n.deleted = 0
      AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.note_id = n.id AND v.hlc = n.hlc);
