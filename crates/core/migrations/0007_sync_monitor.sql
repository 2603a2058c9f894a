-- Outpost local store, schema version 7: the sync monitor.
--
-- One row per sync pass the engine ran (or deferred), so a tester or a
-- user can see how sync has been going: when, why, how long, how much
-- travelled, and how it ended. Plaintext metadata only: times, counts,
-- byte totals and error codes, never note content or titles. Bounded by
-- the engine (the last 1,000 passes, at most 30 days; `crate::monitor`).
CREATE TABLE sync_passes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at     INTEGER NOT NULL,            -- ms since the Unix epoch
    duration_ms    INTEGER NOT NULL CHECK (duration_ms >= 0),
    trigger        TEXT NOT NULL CHECK (trigger IN
                     ('local_change', 'poke', 'timer', 'network_back', 'sync_now', 'retry', 'start')),
    pushed         INTEGER NOT NULL DEFAULT 0,
    pulled         INTEGER NOT NULL DEFAULT 0,
    bytes_sent     INTEGER NOT NULL DEFAULT 0,
    bytes_received INTEGER NOT NULL DEFAULT 0,
    outcome        TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'deferred')),
    error_code     TEXT,                        -- a failed pass: the error's stable code
    reason         TEXT                         -- a deferred pass: why it did not run
) STRICT;
CREATE INDEX sync_passes_started ON sync_passes (started_at);

-- Outbox entries the user told to stop trying (`outpost outbox discard`).
-- The change is not dropped silently: the note keeps its text on this
-- device, and the entry's sealed copy (ciphertext, as in the outbox) is
-- kept here so it can still be recovered.
CREATE TABLE outbox_discarded (
    seq          INTEGER PRIMARY KEY,           -- the entry's outbox seq
    op_id        BLOB NOT NULL,
    note_id      BLOB NOT NULL,
    hlc          TEXT NOT NULL,
    base_rev     INTEGER,
    deleted      INTEGER NOT NULL,
    title        BLOB NOT NULL,
    meta         BLOB NOT NULL,
    body         BLOB NOT NULL,
    state        TEXT NOT NULL,                 -- pending or failed when discarded
    attempts     INTEGER NOT NULL,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    discarded_at INTEGER NOT NULL
) STRICT;
