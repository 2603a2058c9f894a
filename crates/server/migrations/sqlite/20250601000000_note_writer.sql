-- Which session wrote each note's latest version (the SHA-256 of its token,
-- as in `sessions`), so a pull can leave out the versions the asking
-- device pushed itself (the `skip` parameter of `GET /v1/pull`). NULL for
-- versions written before this column: never left out.
ALTER TABLE notes ADD COLUMN writer BLOB;
