-- Scheduling from Chronik: idempotent requests, and meetings users removed from Chronik.

CREATE TABLE schedule_requests (
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    meeting_id      bigint NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);

-- Deleted in Chronik while the calendar event stays: hidden everywhere, and frozen so the
-- sync never brings it back.
ALTER TABLE meetings ADD COLUMN deleted_at timestamptz;
