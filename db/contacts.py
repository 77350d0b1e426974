"""Queries on contacts and their email addresses."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from db import cascade
from db.errors import DuplicateError
from db.types import Executor


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: int
    account_id: int
    first_name: str
    last_name: str
    email: str
    company_name: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    sort_key: str
    extra_emails: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ContactFields:
    """The writable fields of a contact; on update, None means "leave as is"."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company_name: str | None = None
    phone: str | None = None
    extra_emails: Sequence[str] | None = None
    # company_name and phone may be cleared, which None cannot say on update.
    clear: frozenset[str] = frozenset()


_SELECT = """
    SELECT c.id, c.account_id, c.first_name, c.last_name, c.email, c.company_name, c.phone,
           c.created_at, c.updated_at, c.sort_key,
           ARRAY(SELECT e.email FROM contact_emails e
                 WHERE e.contact_id = c.id AND NOT e.is_primary ORDER BY e.position) AS extra_emails
    FROM contacts c
"""


def _contact(record: asyncpg.Record) -> ContactRow:
    return ContactRow(**dict(record))


def _address_list(primary: str, extras: Sequence[str]) -> list[str]:
    """Primary first, then the extras, lower-cased and without repeats."""
    seen: dict[str, None] = {primary.lower(): None}
    for address in extras:
        seen.setdefault(address.lower(), None)
    return list(seen)


async def create_contact(db: Executor, account_id: int, fields: ContactFields) -> ContactRow:
    """Insert a contact with its addresses in one statement; `DuplicateError` when an address
    already belongs to another contact of the account."""
    assert fields.email is not None
    addresses = _address_list(fields.email, fields.extra_emails or ())
    try:
        record = await db.fetchrow(
            """
            WITH c AS (
                INSERT INTO contacts (account_id, first_name, last_name, email, company_name, phone)
                VALUES ($1, $2, $3, $4, $5, $6)
                RETURNING *
            ), addresses AS (
                INSERT INTO contact_emails (account_id, contact_id, email, is_primary, position)
                SELECT c.account_id, c.id, a.email, a.pos = 1, a.pos
                FROM c, unnest($7::text[]) WITH ORDINALITY AS a(email, pos)
            )
            SELECT c.id, c.account_id, c.first_name, c.last_name, c.email, c.company_name,
                   c.phone, c.created_at, c.updated_at, c.sort_key, $8::text[] AS extra_emails
            FROM c
            """,
            account_id,
            fields.first_name or "",
            fields.last_name or "",
            fields.email,
            fields.company_name,
            fields.phone,
            addresses,
            addresses[1:],
        )
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(exc.constraint_name) from None
    assert record is not None
    return _contact(record)


_UPDATABLE = ("first_name", "last_name", "email", "company_name", "phone")


async def update_contact(
    conn: asyncpg.Connection, account_id: int, contact_id: int, fields: ContactFields
) -> ContactRow | None:
    """Apply the given fields to the account's contact; None when it has no such contact.

    Runs in one transaction: when an address changes, the contact's address set is rewritten
    and `DuplicateError` rolls everything back.
    """
    assignments = ["updated_at = now()"]
    args: list[object] = [account_id, contact_id]
    for name in _UPDATABLE:
        value = getattr(fields, name)
        if value is not None or name in fields.clear:
            args.append(value)
            assignments.append(f"{name} = ${len(args)}")
    try:
        async with conn.transaction():
            record = await conn.fetchrow(
                f"UPDATE contacts SET {', '.join(assignments)} "
                "WHERE account_id = $1 AND id = $2 RETURNING id",
                *args,
            )
            if record is None:
                return None
            if fields.email is not None or fields.extra_emails is not None:
                await _rewrite_addresses(conn, account_id, contact_id, fields.extra_emails)
            updated = await conn.fetchrow(_SELECT + " WHERE c.id = $1", contact_id)
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(exc.constraint_name) from None
    assert updated is not None
    return _contact(updated)


async def _rewrite_addresses(
    conn: asyncpg.Connection, account_id: int, contact_id: int, extras: Sequence[str] | None
) -> None:
    current = await conn.fetchrow(_SELECT + " WHERE c.id = $1", contact_id)
    assert current is not None
    keep = current["extra_emails"] if extras is None else extras
    addresses = _address_list(current["email"], keep)
    await conn.execute("DELETE FROM contact_emails WHERE contact_id = $1", contact_id)
    await conn.execute(
        """
        INSERT INTO contact_emails (account_id, contact_id, email, is_primary, position)
        SELECT $1, $2, a.email, a.pos = 1, a.pos
        FROM unnest($3::text[]) WITH ORDINALITY AS a(email, pos)
        """,
        account_id,
        contact_id,
        addresses,
    )


async def delete_contact(db: Executor, account_id: int, contact_id: int) -> bool:
    """Delete the account's contact (its addresses go with it, and its timeline entries: see
    db/cascade.py); False when there was none."""
    async with cascade.transaction(db) as conn:
        status = await conn.execute(
            "DELETE FROM contacts WHERE account_id = $1 AND id = $2", account_id, contact_id
        )
        if status != "DELETE 1":
            return False
        await cascade.contacts_deleted(conn, [contact_id])
    return True


async def contacts_by_ids(
    db: Executor, account_id: int, contact_ids: Sequence[int]
) -> dict[int, ContactRow]:
    """The account's contacts among `contact_ids`, by id; others' contacts are simply absent."""
    rows = await db.fetch(
        _SELECT + " WHERE c.account_id = $1 AND c.id = ANY($2::bigint[])",
        account_id,
        list(contact_ids),
    )
    return {row["id"]: _contact(row) for row in rows}


# totalCount counts up to this many contacts; past it, it says so (`count_contacts`).
COUNT_CAP = 10_000
# Searches this long or longer are served by the trigram index (migrations 0014, 0017).
_GRAM = 3
# A search narrows by at most this many of its trigrams, the rarest: any subset is correct
# (the substring itself is checked on the candidates), and the rarest few make the fewest
# candidates for the least index work ("example.com" is in every address: reading its
# entry for a million contacts costs more than the rest of the search).
_KEYS = 4
# ... and by every other trigram held by fewer than this share: reading such an entry costs
# little, and it can rule out many candidates the rarest ones let through ("martini" by
# "ini": else the 10,000 "martinelli" contacts of a million, read to check the substring).
_CHEAP_KEY = 0.1
# ... when the rarest trigram alone would give at least this many candidates (else each
# entry more costs its lookup and rules out next to nothing: an exact address has 30).
_CHEAP_KEYS_FROM = 1_000
# A search whose every trigram is held by this share of the contacts or more is checked on
# the contacts in list order instead: a page fills within its first few dozen rows, where
# reading the index would mean sorting most of the account ("gmail", "com").
_COMMON = 0.2
# A search the index would give this many candidates or more first walks the list for at
# most as many contacts (`list_contacts`): when that fails, the search costs at most about
# twice what the index alone costs; when it succeeds, a fraction.
_WALK_FIRST = 2 * COUNT_CAP
# How long the trigram statistics (`_TrigramStats`) are trusted before they are read again.
_STATS_TTL = 600.0
# A last name held by at least this many contacts (by the statistics) is a lead word: its
# contacts are read in list order from the sort index rather than from the trigram index
# (migration 0021). At most `_LEADS` of them per search.
_LEAD_CONTACTS = 500
_LEADS = 8
# Lead words are cut to this many characters in the index (migration 0021); a longer one
# is never searched as a lead word.
_LEAD_LENGTH = 200

# The expression migration 0021 indexes; queries name it identically, or the index is unused.
_TERMS = (
    "chronik_contact_terms(c.account_id, c.last_name, c.first_name, c.email, c.company_name,"
    " c.extra_addresses)"
)
# Collations whose order is the characters' code points: those where the contacts whose sort
# key starts with "rossi " are exactly the range ["rossi ", "rossi!") of the sort index.
_BYTEWISE = ("C", "POSIX", "C.UTF-8", "C.utf8")


class _TrigramStats:
    """How common each common trigram is, as ANALYZE last saw it (the index's
    `most_common_elems`), how common each common last name's lead word and each common
    first name is (the columns' `most_common_vals`, and the index's lead words), how many
    contacts there are, and whether the sort key's order is by code point: read once per
    `_STATS_TTL` per process instead of on every search (reading pg_stats took about 10 ms
    a search)."""

    def __init__(self) -> None:
        self.read_at = -_STATS_TTL
        self.freq: dict[str, float] = {}
        self.leads: dict[str, float] = {}
        # The lead words the index's own statistics list as common, by account id.
        self.account_leads: dict[str, dict[str, float]] = {}
        self.firsts: dict[str, float] = {}
        self.rows = 0.0
        self.bytewise = False

    async def current(self, db: Executor) -> _TrigramStats:
        if time.monotonic() - self.read_at < _STATS_TTL:
            return self
        record = await db.fetchrow(
            """
            SELECT (SELECT greatest(reltuples, 0) FROM pg_class
                    WHERE oid = 'contacts'::regclass) AS rows,
                   (SELECT s.most_common_elems::text::text[] FROM pg_stats s
                    WHERE s.schemaname = current_schema()
                      AND s.tablename = 'contacts_search_terms') AS grams,
                   (SELECT s.most_common_elem_freqs FROM pg_stats s
                    WHERE s.schemaname = current_schema()
                      AND s.tablename = 'contacts_search_terms') AS freqs,
                   (SELECT s.most_common_vals::text::text[] FROM pg_stats s
                    WHERE s.schemaname = current_schema() AND s.tablename = 'contacts'
                      AND s.attname = 'last_name') AS names,
                   (SELECT s.most_common_freqs FROM pg_stats s
                    WHERE s.schemaname = current_schema() AND s.tablename = 'contacts'
                      AND s.attname = 'last_name') AS name_freqs,
                   (SELECT s.most_common_vals::text::text[] FROM pg_stats s
                    WHERE s.schemaname = current_schema() AND s.tablename = 'contacts'
                      AND s.attname = 'first_name') AS firsts,
                   (SELECT s.most_common_freqs FROM pg_stats s
                    WHERE s.schemaname = current_schema() AND s.tablename = 'contacts'
                      AND s.attname = 'first_name') AS first_freqs,
                   (SELECT a.attcollation = 100  -- the database's own
                           AND d.datcollate = ANY($1::text[])
                           AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c'
                    FROM pg_attribute a, pg_database d
                    WHERE a.attrelid = 'contacts'::regclass AND a.attname = 'sort_key'
                      AND d.datname = current_database()) AS bytewise
            """,
            list(_BYTEWISE),
        )
        assert record is not None
        # most_common_elem_freqs ends with three summary figures past the elements' own.
        self.freq = dict(zip(record["grams"] or (), record["freqs"] or (), strict=False))
        # A lead word is what the index holds: the lower-cased last name up to its first
        # space (migration 0021); names sharing one add up.
        self.leads = {}
        for name, freq in zip(record["names"] or (), record["name_freqs"] or (), strict=False):
            word = name.lower().split(" ", 1)[0]
            if word and len(word) < _LEAD_LENGTH:
                self.leads[word] = self.leads.get(word, 0.0) + freq
        # The column's statistics list 100 last names; the index's also hold the lead words
        # ('<account id>^<word>') among its 1,000 most common terms.
        self.account_leads = {}
        for term, freq in self.freq.items():
            account, caret, word = term.partition("^")
            if caret and account.isdigit() and word and len(word) < _LEAD_LENGTH:
                self.account_leads.setdefault(account, {})[word] = freq
        # Common first names as stored (a count compares them as they are), ASCII only: their
        # lower case is the same in Python and in PostgreSQL.
        self.firsts = {
            name: freq
            for name, freq in zip(record["firsts"] or (), record["first_freqs"] or (), strict=False)
            if name.isascii()
        }
        self.bytewise = bool(record["bytewise"])
        self.rows = float(record["rows"])
        self.read_at = time.monotonic()
        return self


_trigram_stats = _TrigramStats()


@dataclass(frozen=True, slots=True)
class _Search:
    """A search as its SQL needs it: the LIKE pattern; the index query (a tsquery: the
    trigrams to narrow by, and not the lead words; empty: checked on the contacts in list
    order); the lead words whose contacts all match and are read in list order instead."""

    pattern: str | None
    keys: str
    indexed: bool
    # Whether the page is first looked for in list order (`list_contacts`).
    walk_first: bool = False
    leads: list[str] = field(default_factory=list)
    # Common first names containing the search, as stored: their contacts all match.
    firsts: list[str] = field(default_factory=list)


async def _search(db: Executor, account_id: int, search: str | None) -> _Search:
    if not search:
        return _Search(None, "", indexed=False)
    text = search.lower()
    grams = sorted({f"{account_id}:{text[i : i + _GRAM]}" for i in range(len(text) - _GRAM + 1)})
    if not grams:
        return _Search(_search_pattern(search), "", indexed=False)
    stats = await _trigram_stats.current(db)
    # A trigram the statistics do not list as common counts as rare.
    ranked = sorted(grams, key=lambda gram: (stats.freq.get(gram, 0.0), gram))
    keys = ranked[:_KEYS]
    rarest = stats.freq.get(keys[0], 0.0)
    if rarest * stats.rows >= _CHEAP_KEYS_FROM:
        keys += [g for g in ranked[_KEYS:] if stats.freq.get(g, 0.0) < _CHEAP_KEY]
    if rarest >= _COMMON and rarest * stats.rows > 10 * COUNT_CAP:
        return _Search(_search_pattern(search), "", indexed=False)
    # The common last names containing the search: each one's contacts all match, in one
    # range of the sort index. Any choice is exact (the index query leaves out exactly the
    # contacts read that way); only where the list order is by code point is that range
    # exactly those contacts.
    common = {**stats.leads, **stats.account_leads.get(str(account_id), {})}
    leads = sorted(
        (word for word in common if text in word) if stats.bytewise else (),
        key=lambda word: (-common[word], word),
    )
    leads = [w for w in leads if common[w] * stats.rows >= _LEAD_CONTACTS][:_LEADS]
    query = " & ".join(
        [_lexeme(key) for key in keys] + [f"!{_lexeme(f'{account_id}^{w}')}" for w in leads]
    )
    # The lead words' contacts are not candidates: the index query leaves them out.
    candidates = max(0.0, rarest - sum(common[w] for w in leads)) * stats.rows
    firsts = [
        name
        for name, freq in stats.firsts.items()
        if text in name.lower() and freq * stats.rows >= _LEAD_CONTACTS
    ]
    # Many candidates are worth a walk in list order first where they are spread through
    # it (a first name). With lead words, the rarest trigram's count mostly overstates them
    # ("monti": 23,000 by "ont", 270 in fact), and a walk that fails costs 40-300 ms: only
    # common first names containing the search say they are many and spread.
    spread = sum(stats.firsts[name] for name in firsts) * stats.rows
    walk_first = candidates >= _WALK_FIRST and (not leads or spread >= _WALK_FIRST)
    return _Search(
        _search_pattern(search),
        query,
        indexed=True,
        walk_first=walk_first,
        leads=leads,
        firsts=firsts,
    )


def _lexeme(text: str) -> str:
    """`text` as one quoted tsquery lexeme (taken as it is: nothing parsed or stemmed)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _matches_search(search: _Search, pattern: str, keys: str) -> str:
    """SQL: contact `c` matches the search, whose LIKE pattern is parameter `pattern` and
    whose trigrams to narrow by are parameter `keys` (always true without a search).

    An indexed search first narrows the contacts to those holding its rarest trigrams (an
    index scan); the substring is then checked on those only. The others (shorter than a
    trigram, or common) are checked on the account's contacts in list order."""
    if search.pattern is None:
        # True, naming both parameters (PostgreSQL must see every parameter's type).
        return f"({pattern} IS NULL AND {keys} = '')"
    if search.indexed:
        narrowed = f"{_TERMS} @@ {keys}::tsquery"
    else:
        narrowed = f"{keys} = ''"  # nothing to narrow by (names the parameter, as above)
    return f"{narrowed} AND {_like_any('c', pattern)}"


def _led(leads: str, columns: str, *, page: str | None) -> str:
    """SQL: the account's contacts whose lead word is one of parameter `leads` (a text[]),
    from the sort index: their sort key starts with the lead word and a space. For a
    `page` (its size, a parameter), each word's first contacts in list order strictly after
    the keyset $2, $3; else all of them, in no order."""
    ordered = (
        f"""AND ($2::text IS NULL OR (c.sort_key, c.id) > ($2::text, $3::bigint))
            ORDER BY c.sort_key, c.id LIMIT {page}"""
        if page
        else ""
    )
    return f"""
        SELECT {columns} FROM unnest({leads}) AS w(word)
        CROSS JOIN LATERAL (
            SELECT c.id, c.sort_key FROM contacts c
            WHERE c.account_id = $1 AND c.sort_key >= w.word || ' '
              AND c.sort_key < w.word || '!' {ordered}
        ) c"""


def _like_any(alias: str, pattern: str) -> str:
    """SQL: the contact `alias` (its sort key, company and extra addresses) matches `pattern`."""
    return f"""({alias}.sort_key LIKE {pattern}
               OR lower(coalesce({alias}.company_name, '')) LIKE {pattern}
               OR {alias}.extra_addresses LIKE {pattern})"""


def _search_pattern(search: str | None) -> str | None:
    if not search:
        return None
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The same LIKE pattern for the other records' searches (db/companies.py).
search_pattern = _search_pattern


async def list_contacts(
    db: Executor,
    account_id: int,
    *,
    limit: int,
    after: tuple[str, int] | None = None,
    search: str | None = None,
) -> list[ContactRow]:
    """Up to `limit` contacts of the account in list order, strictly after the `after` keyset.

    Keyset pagination (sort key, id) keeps pages stable while contacts are added or removed.
    `search` matches names, any address and the company name, case-insensitively.
    """
    after_key, after_id = after if after else (None, None)
    found = await _search(db, account_id, search)
    if found.walk_first:
        # Many candidates: a first name, a domain. Where they are spread through the list,
        # the page is among its first few hundred contacts; where they sit together (a last
        # name), that walk gives up after _WALK_FIRST contacts and the index serves the page.
        rows = await db.fetch(
            f"""
            WITH walked AS (
                SELECT c.id, c.sort_key, c.company_name, c.extra_addresses FROM contacts c
                WHERE c.account_id = $1
                  AND ($2::text IS NULL OR (c.sort_key, c.id) > ($2::text, $3::bigint))
                ORDER BY c.sort_key, c.id
                LIMIT $6
            )
            {_SELECT}
            WHERE c.id IN (SELECT w.id FROM walked w WHERE {_like_any("w", "$4::text")}
                           ORDER BY w.sort_key, w.id LIMIT $5)
            ORDER BY c.sort_key, c.id
            """,
            account_id,
            after_key,
            after_id,
            found.pattern,
            limit,
            _WALK_FIRST,
        )
        if len(rows) == limit:
            return [_contact(row) for row in rows]
    where = """
        WHERE c.account_id = $1
          AND ($2::text IS NULL OR (c.sort_key, c.id) > ($2::text, $3::bigint))
          AND """ + _matches_search(found, "$4::text", "$6::text")
    if found.indexed:
        # The candidates first, then the page: in list order, the planner would read the
        # account's contacts until 20 match, as if they were spread evenly; a last name's
        # contacts sit together, maybe behind most of the account. The lead words' contacts
        # (not among the candidates) come in list order from the sort index, a page each.
        query = f"""
        WITH candidates AS MATERIALIZED (SELECT c.id, c.sort_key FROM contacts c {where}),
        found AS (
            SELECT id, sort_key FROM candidates
            UNION ALL {_led("$7::text[]", "c.id, c.sort_key", page="$5")}
        )
        {_SELECT}
        WHERE c.id IN (SELECT id FROM found ORDER BY sort_key, id LIMIT $5)
        ORDER BY c.sort_key, c.id
        """
        args: tuple[object, ...] = (found.keys, found.leads)
    else:
        query = f"{_SELECT} {where} ORDER BY c.sort_key, c.id LIMIT $5"
        args = (found.keys,)
    rows = await db.fetch(query, account_id, after_key, after_id, found.pattern, limit, *args)
    return [_contact(row) for row in rows]


async def count_contacts(
    db: Executor, account_id: int, search: str | None = None
) -> tuple[int, bool]:
    """How many contacts `list_contacts` would page through in all, counted up to
    `COUNT_CAP`: (count, whether it is exact). Counting a million contacts takes longer than a
    person waits for a list; "more than 10,000" tells them what they need."""
    found = await _search(db, account_id, search)
    # The lead words' contacts (all matching, none among the index's candidates) are counted
    # from the sort index alone. Past the cap, those or the common first names' contacts
    # (all matching too, counted from their own index) answer alone: a first name held by
    # 27,000 contacts took 20-60 ms to count through the trigram index, the rows read.
    count = int(
        await db.fetchval(
            f"""
            WITH led AS (
                SELECT count(*) AS n FROM ({_led("$5::text[]", "", page=None)} LIMIT $3) led
            )
            SELECT CASE
                WHEN (SELECT count(*) FROM (
                          SELECT FROM contacts c
                          WHERE c.account_id = $1 AND c.first_name = ANY($6::text[])
                          LIMIT $3) firsts) >= $3
                  OR (SELECT n FROM led) >= $3
                THEN $3
                ELSE (SELECT n FROM led)
                     + (SELECT count(*) FROM (
                            SELECT FROM contacts c
                            WHERE c.account_id = $1
                              AND {_matches_search(found, "$2::text", "$4::text")}
                            LIMIT $3) capped)
            END
            """,
            account_id,
            found.pattern,
            COUNT_CAP + 1,
            found.keys,
            found.leads,
            found.firsts,
        )
    )
    return min(count, COUNT_CAP), count <= COUNT_CAP


async def create_guest_contacts(
    conn: asyncpg.Connection, account_id: int, guests: dict[str, str | None]
) -> dict[str, int]:
    """Contacts for meeting guests (address → display name); returns every address's contact
    id, including addresses another contact already had (nothing is created twice)."""
    emails = list(guests)
    firsts, lasts = [], []
    for email in emails:
        name = (guests[email] or "").strip()
        first, _, last = name.partition(" ")
        firsts.append(first)
        lasts.append(last)
    await conn.execute(
        """
        WITH new AS (
            SELECT u.email, u.first_name, u.last_name
            FROM unnest($2::text[], $3::text[], $4::text[]) AS u(email, first_name, last_name)
            WHERE NOT EXISTS (SELECT 1 FROM contact_emails e
                              WHERE e.account_id = $1 AND e.email = u.email)
        ), made AS (
            INSERT INTO contacts (account_id, first_name, last_name, email)
            SELECT $1, first_name, last_name, email FROM new
            RETURNING id, email
        )
        INSERT INTO contact_emails (account_id, contact_id, email, is_primary, position)
        SELECT $1, id, email, true, 1 FROM made
        ON CONFLICT DO NOTHING
        """,
        account_id,
        emails,
        firsts,
        lasts,
    )
    rows = await conn.fetch(
        "SELECT email, contact_id FROM contact_emails WHERE account_id = $1 AND email = ANY($2)",
        account_id,
        emails,
    )
    return {r["email"]: r["contact_id"] for r in rows}
