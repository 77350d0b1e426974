-- Contact search excludes, inside the index, the contacts a search finds in list order anyway.
--
-- A page of a common last name ("rossi": 1 % of a 1,000,000-contact account) needed the sort
-- key of every candidate the trigram index gave, since a GIN index gives no order: 10,000
-- heap rows on 3,300 pages, 20-30 ms, for 21 of them. Yet the contacts whose last name
-- (their sort key's first word, the "lead word") contains the search all match it, and they
-- sit together in list order: the btree (account_id, sort_key, id) gives them in order,
-- from the index alone. So each contact's terms also hold its lead word, and a search reads
-- two parts (db/contacts.py): in list order, the contacts whose lead word is one of the
-- account's common last names containing the search; from the trigram index, the others,
-- `'1:ros' & '1:oss' & '1:ssi' & !'1^rossi'`. Only a tsquery can say "not" inside a GIN
-- index, so the terms become a tsvector (its lexemes are the same text, nothing is parsed
-- or stemmed). The second part is exact however the lead words are chosen: choosing them
-- well only makes it small.

-- The contact's search terms: the trigrams of what a search matches (chronik_contact_grams,
-- each '<account id>:<trigram>') and its lead word as '<account id>^<word>' (no trigram has
-- '^' right after the account's digits). A lexeme has at most 2,047 bytes: the word is cut to
-- 200 characters, and longer words are never searched as lead words.
CREATE FUNCTION chronik_contact_terms(
    account_id bigint, last_name text, first_name text, email text, company_name text,
    extra_addresses text
) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT array_to_tsvector(
        chronik_contact_grams(account_id, last_name, first_name, email, company_name,
                              extra_addresses)
        || (account_id::text || '^'
            || left(split_part(lower(last_name || ' ' || first_name || ' ' || email), ' ', 1),
                    200))
    )
$$;

DROP INDEX contacts_search_grams;

-- As in migration 0017: a small pending list, so a search never reads a long one.
CREATE INDEX contacts_search_terms ON contacts USING gin (
    chronik_contact_terms(account_id, last_name, first_name, email, company_name, extra_addresses)
) WITH (gin_pending_list_limit = 256);

-- totalCount stops at 10,000 (db/contacts.py). A first name held by 27,000 contacts of a
-- 1,000,000 took 20-60 ms to count that far through the trigram index, each candidate's row
-- read to check the substring; yet every contact whose first name contains the search
-- matches it, so counting the account's common first names that contain it, from this
-- index alone, says "more than 10,000" in a few milliseconds.
CREATE INDEX contacts_account_first_name_idx ON contacts (account_id, first_name);
