-- A provider without push (CalDAV) is polled more often than the workers' fallback poll of
-- providers that push: its own interval, from its settings, upserted with the registry at
-- every start (db/providers.py). NULL: the workers' interval.
ALTER TABLE calendar_providers
    ADD COLUMN poll_seconds float8 CHECK (poll_seconds > 0);
