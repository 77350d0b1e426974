-- Whether the stored cursor continues a round (a page token) rather than starting one (a sync
-- token / delta link). A round lists the calendar as it was when the round began, so a run
-- that resumes one must read once more after it ends, or what changed since (and the push
-- that said so) waits for the next poll.
ALTER TABLE calendar_connections
    ADD COLUMN cursor_mid_round boolean NOT NULL DEFAULT false;
