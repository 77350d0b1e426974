-- Graph series used to be stored under their first occurrence as well (provider_alt_id): the
-- old parser took that occurrence for the series item. The series item is now the series
-- master itself, so the alias would let a change to the first occurrence alone (moved,
-- answered, cancelled) hit the whole series. Upserts already write NULL here; this clears the
-- rows stored before, so no connection has to wait for its next full round.
UPDATE meetings m
   SET provider_alt_id = NULL
  FROM calendar_connections c
 WHERE m.connection_id = c.id
   AND c.provider = 'microsoft'
   AND m.kind = 'series'
   AND m.provider_alt_id IS NOT NULL;
