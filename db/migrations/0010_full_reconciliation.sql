-- When the connection last finished a full round (a complete listing of the calendar, after
-- which everything not listed is removed). A delta cannot report every change (an organizer
-- cancelling a series whose occurrences have all started, a change the provider dropped), so
-- a full round runs again once this is older than the reconciliation interval. Connections
-- that synced before count their last sync as the last full round, so deploying this does not
-- send every calendar into a full round at once.
ALTER TABLE calendar_connections
    ADD COLUMN full_round_at timestamptz;
UPDATE calendar_connections SET full_round_at = last_synced_at WHERE sync_cursor IS NOT NULL;
