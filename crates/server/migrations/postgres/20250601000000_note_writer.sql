-- Which session wrote each note's latest version. Comments on the SQLite
-- twin apply.
ALTER TABLE notes ADD COLUMN writer BYTEA;
