-- Outpost local store, schema version 5: the versions of each note this
-- device has agreed on with a server, by clock stamp.
--
-- Every version that became a note's merge base (acknowledged after a push,
-- pulled, or merged with) is one this device's note already contains: the
-- device saw it before making or taking anything later. When a server that
-- was reset or restored from an old backup offers such a version again, the
-- device keeps its own (newer) one and sends it on top, instead of merging
-- blind or letting the old version roll the note back. The stamps outlive
-- the merge base, which the device forgets when it finds the server reset.
-- Only the newest stamps of a note are kept (see `vault::replica`).
-- Plaintext: clock stamps only, no note content.
CREATE TABLE agreed_stamps (
    note_id BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    hlc     TEXT NOT NULL,
    PRIMARY KEY (note_id, hlc)
) STRICT, WITHOUT ROWID;

INSERT INTO agreed_stamps (note_id, hlc) SELECT note_id, hlc FROM merge_base;
