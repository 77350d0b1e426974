-- Rule 6: a cancelled occurrence of a logged series is that week's meeting, status cancelled,
-- on the timelines of the series' contacts. `cancelled_week` marks those meetings (their
-- entries follow the series' entry, see db/meetings.refresh_cancelled_weeks); `cancelled_at`
-- says when a meeting was cancelled.
ALTER TABLE meetings
    ADD COLUMN cancelled_week boolean NOT NULL DEFAULT false,
    ADD COLUMN cancelled_at   timestamptz;
CREATE INDEX meetings_cancelled_weeks ON meetings (connection_id, series_id) WHERE cancelled_week;
