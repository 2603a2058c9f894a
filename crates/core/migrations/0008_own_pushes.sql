-- Outpost local store, schema version 8: no echo.
--
-- The server sequence numbers this device's own accepted pushes got
-- (applied or duplicate), above the pull cursor. A pull names them (the
-- `skip` parameter) so the server leaves those versions out: the device
-- already holds them. Written in the transaction that records the push's
-- answer, dropped once the cursor passes them, emptied when the device
-- starts over with a reset server.
CREATE TABLE own_pushes (
    seq INTEGER PRIMARY KEY
) STRICT;
