-- Bootstrap snapshots (docs/protocol.md, "Bootstrap snapshots"): chunks a
-- device sealed under the account's data key; opaque to the server. A
-- snapshot is complete when all `chunks` chunks of one (user, at_seq) are
-- here; the account's snapshot is the complete one with the highest
-- `at_seq` (the pull cursor it was made at).
CREATE TABLE snapshots (
    user_id     BLOB NOT NULL REFERENCES users(id),
    at_seq      INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    chunks      INTEGER NOT NULL,
    data        BLOB NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (user_id, at_seq, idx)
) STRICT;
