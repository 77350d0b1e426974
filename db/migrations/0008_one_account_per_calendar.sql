-- A calendar (provider + owner address) is linked in one place at most, across all accounts:
-- two accounts syncing one person's calendar means one of them reads meetings it was never
-- given (a link completed in someone else's browser did exactly that before linking was bound
-- to the user who started it).
--
-- Links made before this rule may already share a calendar. The earliest link keeps it; the
-- later ones are disconnected (tokens forgotten, meetings kept) with a reason their users see.
WITH ranked AS (
    SELECT id, row_number() OVER (
               PARTITION BY provider, calendar_email ORDER BY linked_at, id) AS n
    FROM calendar_connections
    WHERE status <> 'disconnected'
)
UPDATE calendar_connections c
SET status = 'disconnected', token_ciphertext = NULL, token_expires_at = NULL,
    token_version = c.token_version + 1,
    last_error = 'This calendar was linked in another place first; a calendar can be linked '
                 'in one place at a time, so this link was disconnected.',
    last_error_at = now(), updated_at = now()
FROM ranked r
WHERE r.id = c.id AND r.n > 1;

DROP INDEX calendar_connections_one_linker;
CREATE UNIQUE INDEX calendar_connections_one_place_per_calendar
    ON calendar_connections (provider, calendar_email) WHERE status <> 'disconnected';

-- What became of a link attempt, for the user who started it (`calendarLinkAttempt`):
-- proven_at: the starting user signed in to the browser that continues to the provider;
-- outcome/problem/message: set once the provider sent that browser back.
ALTER TABLE oauth_link_states
    ADD COLUMN proven_at      timestamptz,
    ADD COLUMN outcome        text CHECK (outcome IN ('linked', 'failed')),
    ADD COLUMN problem        text,
    ADD COLUMN message        text,
    ADD COLUMN calendar_email text;
CREATE INDEX oauth_link_states_user_idx ON oauth_link_states (user_id, created_at DESC);
