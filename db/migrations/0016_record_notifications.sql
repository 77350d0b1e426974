-- Live timelines of companies, deals and tickets: the meetings scheduled from a record.
--
-- A contact's timeline changes are announced by the code that writes them (db/meetings.py,
-- `chronik_timeline`). A record's scheduled meetings change by more paths: linked and unlinked
-- when a meeting is scheduled or updated, gone with the record, the meeting or the account,
-- and the meeting itself changed by the sync, by scheduling, cancelled or deleted in Chronik
-- (whether or not any contact is among its guests). These triggers announce every such change
-- on `chronik_records`, in the writer's transaction (delivered on commit only), as
-- {"a": account, "r": [[kind, record id, meeting id, change], ...]}: kind c(ompany), d(eal) or
-- t(icket), change a(dded), r(emoved) or u(pdated). Ids only: subscribers load what is there
-- now. A statement that touches no scheduled meeting announces nothing.

CREATE FUNCTION chronik_announce_records(changes jsonb) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    batch record;
BEGIN
    -- pg_notify payloads must stay under 8000 bytes: at most 150 changes (~40 bytes) each.
    FOR batch IN
        SELECT c.account, jsonb_agg(c.item) AS items
        FROM (
            SELECT (e ->> 0)::bigint AS account, e -> 1 AS item,
                   (row_number() OVER (PARTITION BY e ->> 0) - 1) / 150 AS part
            FROM jsonb_array_elements(changes) AS e
        ) c
        GROUP BY c.account, c.part
    LOOP
        PERFORM pg_notify(
            'chronik_records', jsonb_build_object('a', batch.account, 'r', batch.items)::text
        );
    END LOOP;
END;
$$;

-- Whether a meeting was ever scheduled from a company, deal or ticket: the meeting trigger
-- below looks in the link tables only for these (never reset: a stale true costs a lookup).
ALTER TABLE meetings ADD COLUMN scheduled_from_record boolean NOT NULL DEFAULT false;
UPDATE meetings SET scheduled_from_record = true
WHERE id IN (SELECT meeting_id FROM company_meetings
             UNION SELECT meeting_id FROM deal_meetings
             UNION SELECT meeting_id FROM ticket_meetings);

-- A record's link to a meeting made or gone (TG_ARGV: the kind's letter, the record column).
CREATE FUNCTION chronik_record_links_changed() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    changes jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_array(
               x.account_id,
               jsonb_build_array(TG_ARGV[0], (to_jsonb(x) ->> TG_ARGV[1])::bigint, x.meeting_id,
                                 CASE TG_OP WHEN 'INSERT' THEN 'a' ELSE 'r' END)))
    INTO changes
    FROM changed_links x
    LEFT JOIN meetings m ON m.id = x.meeting_id
    -- Only a meeting on the record's timeline (one cancelled or deleted in Chronik is not);
    -- a meeting gone altogether was, as far as anyone knows.
    WHERE m.id IS NULL OR (m.deleted_at IS NULL AND m.status <> 'cancelled');
    IF changes IS NOT NULL THEN
        PERFORM chronik_announce_records(changes);
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE meetings SET scheduled_from_record = true
        WHERE id IN (SELECT meeting_id FROM changed_links) AND NOT scheduled_from_record;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER company_meetings_linked AFTER INSERT ON company_meetings
    REFERENCING NEW TABLE AS changed_links FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_record_links_changed('c', 'company_id');
CREATE TRIGGER company_meetings_unlinked AFTER DELETE ON company_meetings
    REFERENCING OLD TABLE AS changed_links FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_record_links_changed('c', 'company_id');
CREATE TRIGGER deal_meetings_linked AFTER INSERT ON deal_meetings
    REFERENCING NEW TABLE AS changed_links FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_record_links_changed('d', 'deal_id');
CREATE TRIGGER deal_meetings_unlinked AFTER DELETE ON deal_meetings
    REFERENCING OLD TABLE AS changed_links FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_record_links_changed('d', 'deal_id');
CREATE TRIGGER ticket_meetings_linked AFTER INSERT ON ticket_meetings
    REFERENCING NEW TABLE AS changed_links FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_record_links_changed('t', 'ticket_id');
CREATE TRIGGER ticket_meetings_unlinked AFTER DELETE ON ticket_meetings
    REFERENCING OLD TABLE AS changed_links FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_record_links_changed('t', 'ticket_id');

-- A meeting scheduled from records changed: announced when it is or was on their timelines
-- and something a timeline shows changed (not its bookkeeping: the round it was last seen in,
-- when it was written). Row-level with the test in WHEN, which PostgreSQL evaluates without
-- calling the function: the sync rewrites thousands of meetings a page and marks thousands
-- seen, and only a meeting ever scheduled from a record whose shown fields changed is looked
-- up in the link tables; a statement-level trigger would capture every row of every such
-- statement (bench/record_triggers.py).
CREATE FUNCTION chronik_record_meeting_changed() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    changes jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_array(NEW.account_id,
                                       jsonb_build_array(l.kind, l.record, NEW.id, 'u')))
    INTO changes
    FROM (
        SELECT 'c' AS kind, x.company_id AS record FROM company_meetings x
        WHERE x.meeting_id = NEW.id
        UNION ALL
        SELECT 'd', x.deal_id FROM deal_meetings x WHERE x.meeting_id = NEW.id
        UNION ALL
        SELECT 't', x.ticket_id FROM ticket_meetings x WHERE x.meeting_id = NEW.id
    ) l;
    IF changes IS NOT NULL THEN
        PERFORM chronik_announce_records(changes);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER meetings_of_records_changed AFTER UPDATE ON meetings FOR EACH ROW
    WHEN (NEW.scheduled_from_record
          AND ((OLD.deleted_at IS NULL AND OLD.status <> 'cancelled')
           OR (NEW.deleted_at IS NULL AND NEW.status <> 'cancelled'))
          AND (OLD.title, OLD.description, OLD.location, OLD.starts_at, OLD.ends_at,
               OLD.time_zone, OLD.all_day, OLD.status, OLD.frozen, OLD.organizer_email,
               OLD.etag, OLD.provider_updated_at, OLD.cancelled_at, OLD.deleted_at,
               OLD.connection_id, OLD.kind, OLD.series_id, OLD.original_start)
              IS DISTINCT FROM
              (NEW.title, NEW.description, NEW.location, NEW.starts_at, NEW.ends_at,
               NEW.time_zone, NEW.all_day, NEW.status, NEW.frozen, NEW.organizer_email,
               NEW.etag, NEW.provider_updated_at, NEW.cancelled_at, NEW.deleted_at,
               NEW.connection_id, NEW.kind, NEW.series_id, NEW.original_start))
    EXECUTE FUNCTION chronik_record_meeting_changed();
