-- A company's live timeline shows the meetings of its contacts as they are now: when a contact
-- joins or leaves, the timeline gains or loses all of that contact's meetings at once. Its
-- subscribers are told to refetch (RESYNC) rather than sent one update per meeting, which for
-- a long-standing contact could be thousands. Announced on `chronik_records` like the
-- company's own links (migration 0016), change "s", meeting 0; one per company and statement.

CREATE FUNCTION chronik_company_members_changed() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    changes jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_array(x.account_id, jsonb_build_array('c', x.company_id, 0, 's')))
    INTO changes
    FROM (SELECT DISTINCT account_id, company_id FROM changed_members) x;
    IF changes IS NOT NULL THEN
        PERFORM chronik_announce_records(changes);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER company_contacts_joined AFTER INSERT ON company_contacts
    REFERENCING NEW TABLE AS changed_members FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_company_members_changed();
CREATE TRIGGER company_contacts_left AFTER DELETE ON company_contacts
    REFERENCING OLD TABLE AS changed_members FOR EACH STATEMENT
    EXECUTE FUNCTION chronik_company_members_changed();
