-- A push that arrives while a connection syncs asks for one follow-up run. Pushes come in
-- bursts (and a captured one can be replayed at will): the follow-up waits until they have
-- been quiet for a moment, so a burst of any size costs one run. NULL: the queued run (if any)
-- starts at once.
ALTER TABLE calendar_connections
    ADD COLUMN push_seen_at timestamptz;
