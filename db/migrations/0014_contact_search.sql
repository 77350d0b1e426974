-- Contact search served by an index at any account size (names, every address, company;
-- substrings, case-insensitive).
--
-- pg_trgm would do it, but it is a contrib extension that not every PostgreSQL Chronik runs on
-- has (the embedded one has none). So the trigrams are plain text[] values with a built-in GIN
-- index: a search for "smith" first finds the contacts holding all of "smi", "mit" and "ith",
-- then checks the substring on those only. Each trigram is prefixed with the account's id, so
-- an account's search reads its own index entries only (one tenant never slows another).

-- The distinct trigrams of `body` (already lower-cased), each as '<account id>:<trigram>'.
CREATE FUNCTION chronik_search_grams(account_id bigint, body text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(DISTINCT account_id::text || ':' || substr(body, i, 3)), '{}')
    FROM generate_series(1, length(body) - 2) AS i
$$;

-- The trigrams a search narrows by: its rarest few, by the column's statistics (a trigram
-- the statistics do not list as common counts as rare). Any subset is correct, since the
-- substring itself is checked on the candidates; the rarest few make the smallest candidate
-- set for the least index work ("example.com" is in every address: reading its entry for a
-- million contacts costs more than the rest of the search).
CREATE FUNCTION chronik_search_keys(account_id bigint, search text, keys int DEFAULT 4)
    RETURNS text[]
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    WITH common AS (
        SELECT u.gram, u.freq
        FROM pg_stats s,
             unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS u(gram, freq)
        WHERE s.schemaname = current_schema() AND s.tablename = 'contacts'
          AND s.attname = 'search_grams'
    )
    SELECT coalesce(array_agg(gram), '{}') FROM (
        SELECT g.gram FROM unnest(chronik_search_grams(account_id, search)) AS g(gram)
        LEFT JOIN common USING (gram)
        ORDER BY coalesce(common.freq, 0), g.gram
        LIMIT keys
    ) rarest
$$;

-- A contact's extra addresses (besides the primary one), one per line, so one row holds
-- everything a search matches. Kept by a trigger on contact_emails, whoever writes there.
ALTER TABLE contacts ADD COLUMN extra_addresses text NOT NULL DEFAULT '';

CREATE FUNCTION chronik_extra_addresses(contact bigint) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(string_agg(email, E'\n' ORDER BY position, email), '')
    FROM contact_emails WHERE contact_id = contact AND NOT is_primary
$$;

-- Once per statement, for the contacts whose extra addresses the statement touched (a bulk
-- load of primary addresses updates nothing).
CREATE FUNCTION chronik_contact_emails_changed() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE contacts SET extra_addresses = chronik_extra_addresses(id)
        WHERE id IN (SELECT contact_id FROM added WHERE NOT is_primary);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE contacts SET extra_addresses = chronik_extra_addresses(id)
        WHERE id IN (SELECT contact_id FROM gone WHERE NOT is_primary);
    ELSE
        UPDATE contacts SET extra_addresses = chronik_extra_addresses(id)
        WHERE id IN (SELECT contact_id FROM added UNION SELECT contact_id FROM gone);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER contact_emails_inserted AFTER INSERT ON contact_emails
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION chronik_contact_emails_changed();
CREATE TRIGGER contact_emails_deleted AFTER DELETE ON contact_emails
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION chronik_contact_emails_changed();
CREATE TRIGGER contact_emails_updated AFTER UPDATE ON contact_emails
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION chronik_contact_emails_changed();

UPDATE contacts SET extra_addresses = chronik_extra_addresses(id)
WHERE id IN (SELECT contact_id FROM contact_emails WHERE NOT is_primary);

ALTER TABLE contacts ADD COLUMN search_grams text[] GENERATED ALWAYS AS (
    chronik_search_grams(
        account_id,
        lower(last_name || ' ' || first_name || ' ' || email || E'\n'
              || coalesce(company_name, '') || E'\n' || extra_addresses)
    )
) STORED;
CREATE INDEX contacts_search_grams ON contacts USING gin (search_grams);
