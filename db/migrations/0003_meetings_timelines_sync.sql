-- Meetings, their attendees, contact timelines, and the sync state of each connection.

ALTER TABLE calendar_connections
    -- The provider's cursor (page of the current round, or the incremental cursor), stored in
    -- the same transaction as the changes it covers.
    ADD COLUMN sync_cursor        text,
    ADD COLUMN sync_phase         text NOT NULL DEFAULT 'initial'
                                  CHECK (sync_phase IN ('initial', 'incremental')),
    -- A full round (initial sync or resync after an expired cursor) has a number; meetings seen
    -- in it carry it, so the round's end can tell which ones the provider no longer has.
    ADD COLUMN sync_round         bigint NOT NULL DEFAULT 0,
    ADD COLUMN round_is_full      boolean NOT NULL DEFAULT true,
    ADD COLUMN events_seen        bigint NOT NULL DEFAULT 0,
    ADD COLUMN window_start       timestamptz,
    -- Work queue: set by push, polling and syncCalendarNow; cleared when a worker takes it.
    ADD COLUMN sync_requested_at  timestamptz,
    ADD COLUMN next_attempt_at    timestamptz,
    ADD COLUMN lease_owner        text,
    ADD COLUMN lease_expires_at   timestamptz,
    -- Push: Google channel / Graph subscription, verified by the hash of its secret token.
    ADD COLUMN push_channel_id    text,
    ADD COLUMN push_resource_id   text,
    ADD COLUMN push_token_hash    bytea,
    ADD COLUMN push_expires_at    timestamptz;
CREATE UNIQUE INDEX calendar_connections_push_channel ON calendar_connections (push_channel_id);
CREATE INDEX calendar_connections_due ON calendar_connections (sync_requested_at)
    WHERE status = 'active';

CREATE TABLE meetings (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    connection_id       bigint REFERENCES calendar_connections (id) ON DELETE SET NULL,
    source              text NOT NULL CHECK (source IN ('crm', 'google', 'microsoft')),
    provider_event_id   text,
    -- Another provider id naming the same meeting (Graph: a series' first occurrence).
    provider_alt_id     text,
    ical_uid            text,
    kind                text NOT NULL CHECK (kind IN ('single', 'series', 'exception')),
    series_id           text,
    original_start      timestamptz,
    title               text,
    description         text,
    location            text,
    starts_at           timestamptz,
    ends_at             timestamptz,
    time_zone           text,
    all_day             boolean NOT NULL DEFAULT false,
    status              text NOT NULL CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    -- Turned private after it was logged: kept on the timelines, no longer updated (rule 7).
    frozen              boolean NOT NULL DEFAULT false,
    organizer_email     text,
    created_by_user_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    provider_created_at timestamptz,
    provider_updated_at timestamptz,
    etag                text,
    seen_round          bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_id, provider_event_id)
);
CREATE INDEX meetings_alt_id ON meetings (connection_id, provider_alt_id)
    WHERE provider_alt_id IS NOT NULL;
CREATE INDEX meetings_account_start ON meetings (account_id, starts_at DESC, id DESC);

CREATE TABLE meeting_attendees (
    meeting_id   bigint NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    email        text NOT NULL CHECK (email = lower(email)),
    display_name text,
    response     text NOT NULL,
    is_organizer boolean NOT NULL DEFAULT false,
    position     int NOT NULL DEFAULT 0,
    PRIMARY KEY (meeting_id, email)
);

CREATE TABLE timeline_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id  bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    meeting_id  bigint NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    -- The meeting's start, copied so a timeline page is one index range scan.
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contact_id, meeting_id)
);
CREATE INDEX timeline_entries_page ON timeline_entries (contact_id, occurred_at DESC, id DESC);
CREATE INDEX timeline_entries_meeting ON timeline_entries (meeting_id);

-- Every change to a timeline, in commit order: what subscribers replay after a RESYNC and
-- what operators read to explain why a meeting appeared or vanished.
CREATE TABLE timeline_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id  bigint NOT NULL,
    meeting_id  bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('added', 'updated', 'removed')),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timeline_changes_contact ON timeline_changes (contact_id, id);
