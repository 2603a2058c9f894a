-- Bootstrap snapshots. Comments on the SQLite twin apply.
CREATE TABLE snapshots (
    user_id     UUID NOT NULL REFERENCES users(id),
    at_seq      BIGINT NOT NULL,
    idx         BIGINT NOT NULL,
    chunks      BIGINT NOT NULL,
    data        BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (user_id, at_seq, idx)
);
