-- Contact search from an index on the trigram expression itself, not on a stored column.
--
-- The stored text[] (migration 0014) held about 570 of a contact row's 750 bytes: at 1,000,000
-- contacts the table grew from about 180 MB to 957 MB, and a search reading 10,000 candidate
-- rows read four times the pages. No query reads the array: `@>` on a GIN array index is
-- exact, so a bitmap scan checks nothing on the row (only when work_mem turns the bitmap
-- lossy does PostgreSQL recheck, computing the expression for those rows).
--
-- Dropping a column frees its space only as rows are rewritten; `VACUUM FULL contacts` gives
-- it back at once (it cannot run inside a migration's transaction).

DROP INDEX contacts_search_grams;
ALTER TABLE contacts DROP COLUMN search_grams;
DROP FUNCTION chronik_search_keys(bigint, text, int);

-- What a contact's search matches, lower-cased: names, primary address, company, extra
-- addresses. The index below and the queries (db/contacts.py) name this same expression.
CREATE FUNCTION chronik_contact_grams(
    account_id bigint, last_name text, first_name text, email text, company_name text,
    extra_addresses text
) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT chronik_search_grams(
        account_id,
        lower(last_name || ' ' || first_name || ' ' || email || E'\n'
              || coalesce(company_name, '') || E'\n' || extra_addresses)
    )
$$;

-- New rows wait in the index's pending list until it is merged (by VACUUM, or by the insert
-- that fills it), and every search reads that whole list: at the default 4 MB (a few thousand
-- contacts) a search took 15-35 ms for nothing. 256 kB keeps bulk inserts batched and the
-- pending part of a search around a millisecond.
CREATE INDEX contacts_search_grams ON contacts USING gin (
    chronik_contact_grams(account_id, last_name, first_name, email, company_name, extra_addresses)
) WITH (gin_pending_list_limit = 256);
