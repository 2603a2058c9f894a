-- Outpost local store, schema version 14: versions_no_hlc_index.
-- Written by `outpost migrate new` from schema.sql; review it before committing.
-- Never edit this file once it has been applied anywhere; add a new one.

-- Index versions_hlc is no longer declared.
DROP INDEX "versions_hlc";
