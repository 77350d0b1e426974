"""The contact list: cursor pagination, search, and a constant SQL cost per page."""

from __future__ import annotations

import collections

import asyncpg
import pytest

from db import contacts as contacts_db
from tests.conftest import TestUser
from tests.support.server import RunningChronik

PAGE = """
query($first: Int, $after: String, $search: String) {
  contacts(first: $first, after: $after, search: $search) {
    edges { cursor node { id name email extraEmails companyName phone } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


async def add_contacts(db: asyncpg.Connection, account_id: int, names: list[str]) -> None:
    """Insert contacts directly (fast arrangement), the way the GraphQL mutation stores them."""
    for name in names:
        email = f"{name.lower()}@client.test"
        contact_id = await db.fetchval(
            "INSERT INTO contacts (account_id, first_name, last_name, email) "
            "VALUES ($1, '', $2, $3) RETURNING id",
            account_id,
            name,
            email,
        )
        await db.execute(
            "INSERT INTO contact_emails (account_id, contact_id, email, is_primary) "
            "VALUES ($1, $2, $3, true), ($1, $2, $4, false)",
            account_id,
            contact_id,
            email,
            f"{name.lower()}@other.test",
        )


async def all_names(
    chronik: RunningChronik, user: TestUser, first: int, inserting_between_pages=None
) -> list[str]:
    names: list[str] = []
    after = None
    while True:
        page = (
            await chronik.graphql(PAGE, {"first": first, "after": after}, token=user.token)
        ).ok()["contacts"]
        names += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return names
        after = page["pageInfo"]["endCursor"]
        if inserting_between_pages:
            await inserting_between_pages()


async def test_pages_walk_the_list_in_name_order(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    names = [f"Name{i:02d}" for i in range(23)]
    await add_contacts(db, alice.account_id, list(reversed(names)))
    assert await all_names(chronik, alice, first=5) == names


async def test_pagination_is_stable_under_inserts(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    existing = [f"M{i:02d}" for i in range(20)]
    await add_contacts(db, alice.account_id, existing)
    inserted = iter(range(100))

    async def insert_before_and_after() -> None:
        n = next(inserted)
        # One lands before every cursor, one after: neither may shift or repeat the others.
        await add_contacts(db, alice.account_id, [f"A{n:02d}", f"Z{n:02d}"])

    seen = await all_names(chronik, alice, first=4, inserting_between_pages=insert_before_and_after)
    assert [n for n in seen if n.startswith("M")] == existing  # none skipped, none repeated
    assert len(seen) == len(set(seen))


async def test_search_matches_name_any_address_and_company(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await add_contacts(db, alice.account_id, ["Miller", "Smith", "Jones"])
    await db.execute(
        "UPDATE contacts SET company_name = 'Smithereens Ltd' WHERE last_name = 'Jones'"
    )

    async def search(text: str) -> list[str]:
        page = (await chronik.graphql(PAGE, {"search": text}, token=alice.token)).ok()
        return [e["node"]["name"] for e in page["contacts"]["edges"]]

    assert await search("SMITH") == ["Jones", "Smith"]
    assert await search("miller@other") == ["Miller"]
    assert await search("%") == []  # LIKE wildcards are literal text here


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_page_size_outside_the_cap_is_a_validation_error(
    chronik: RunningChronik, alice: TestUser, first: int
) -> None:
    result = await chronik.graphql(PAGE, {"first": first}, token=alice.token)
    assert result.error_codes == ["VALIDATION"]


async def test_forged_cursor_is_a_validation_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    result = await chronik.graphql(PAGE, {"after": "bm90LWEtY3Vyc29y"}, token=alice.token)
    assert result.error_codes == ["VALIDATION"]


async def test_total_count(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await add_contacts(db, alice.account_id, ["A", "B", "C"])
    result = await chronik.graphql("{ contacts(first: 1) { totalCount } }", token=alice.token)
    assert result.ok()["contacts"]["totalCount"] == 3


async def statements_for_page(chronik: RunningChronik, user: TestUser, first: int) -> int:
    chronik.statements.clear()
    page = (await chronik.graphql(PAGE, {"first": first}, token=user.token)).ok()
    assert len(page["contacts"]["edges"]) == first
    return len(chronik.statements)


async def test_sql_statements_for_50_contacts_equal_those_for_5(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await add_contacts(db, alice.account_id, [f"C{i:03d}" for i in range(60)])
    five = await statements_for_page(chronik, alice, 5)
    fifty = await statements_for_page(chronik, alice, 50)
    assert five == fifty
    assert fifty <= 2  # authenticate, then one query for the page with every address


COUNT = """
query($search: String) { contacts(first: 1, search: $search) { totalCount totalCountIsExact } }"""
UPDATE = """
mutation($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { id } }"""


async def test_search_finds_substrings_of_names_addresses_and_companies_as_they_change(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    await add_contacts(db, alice.account_id, ["Miller", "Smith"])
    await add_contacts(db, bob.account_id, ["Millerson"])  # another account's: never found

    async def search(text: str) -> list[str]:
        page = (await chronik.graphql(PAGE, {"search": text}, token=alice.token)).ok()
        return [e["node"]["name"] for e in page["contacts"]["edges"]]

    assert await search("ILLE") == ["Miller"]  # inside a name
    assert await search("er@other.t") == ["Miller"]  # inside an extra address
    assert await search("mi") == ["Miller", "Smith"]  # short searches match too
    smith = (await chronik.graphql(PAGE, {"search": "smith"}, token=alice.token)).ok()
    smith_id = smith["contacts"]["edges"][0]["node"]["id"]
    changed = await chronik.graphql(
        UPDATE,
        {"id": smith_id, "input": {"extraEmails": ["s.m@wholesale.test"], "companyName": "Quux"}},
        token=alice.token,
    )
    changed.ok()
    assert await search("wholesale") == ["Smith"]  # a new extra address
    assert await search("smith@other") == []  # the replaced one
    assert await search("uux") == ["Smith"]  # the company


async def test_total_count_stops_at_ten_thousand_and_says_so(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This database's statistics, not those another test's left in this process.
    monkeypatch.setattr(contacts_db, "_trigram_stats", contacts_db._TrigramStats())
    await db.execute(
        "INSERT INTO contacts (account_id, first_name, last_name, email) "
        "SELECT $1, 'Walter', 'Bulk', 'bulk' || n || '@client.test'"
        " FROM generate_series(1, 10001) AS n",
        alice.account_id,
    )
    await db.execute(
        "INSERT INTO contacts (account_id, first_name, last_name, email) "
        "SELECT $1, 'Olga', 'Few', 'few' || n || '@client.test' FROM generate_series(1, 900) AS n",
        alice.account_id,
    )
    await add_contacts(db, alice.account_id, ["Miller"])
    # The statistics now know both first names as common: counted from their own index.
    await db.execute("ANALYZE contacts")

    async def count(search: str | None) -> dict[str, object]:
        result = await chronik.graphql(COUNT, {"search": search}, token=alice.token)
        return dict(result.ok()["contacts"])

    assert await count(None) == {"totalCount": 10_000, "totalCountIsExact": False}
    assert await count("bulk") == {"totalCount": 10_000, "totalCountIsExact": False}
    assert await count("miller") == {"totalCount": 1, "totalCountIsExact": True}
    assert await count("ALTE") == {"totalCount": 10_000, "totalCountIsExact": False}
    assert await count("olga") == {"totalCount": 900, "totalCountIsExact": True}


async def test_a_search_longer_than_a_name_is_a_validation_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    result = await chronik.graphql(PAGE, {"search": "x" * 201}, token=alice.token)
    assert result.error_codes == ["VALIDATION"]
    assert result.errors[0]["extensions"]["field"] == "search"


class _EveryTrigramHeldBy:
    """Statistics saying this share of a million contacts holds every trigram, and 1 % of
    them each of the last names `leads`."""

    def __init__(self, share: float, leads: tuple[str, ...] = ()) -> None:
        self.freq = collections.defaultdict(lambda: share)
        self.leads = dict.fromkeys(leads, 0.01)
        self.account_leads: dict[str, dict[str, float]] = {}
        self.firsts: dict[str, float] = {}
        self.rows = 1_000_000.0
        self.bytewise = True  # the tests' PostgreSQL sorts by code point (C.UTF-8)

    async def current(self, db: object) -> _EveryTrigramHeldBy:
        return self


@pytest.mark.parametrize("statistics", ["as analyzed", "a fair share", "most", "lead words"])
async def test_a_search_pages_alike_however_common_its_trigrams_are(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    statistics: str,
) -> None:
    # Rare trigrams are served by the index, a fair share of the contacts first walks the
    # list, most are checked in list order, common last names are read in list order beside
    # the index: the pages a person walks are the same every way.
    if statistics == "lead words":
        # Two of the millers' last names are common (one also reads "Miller05 Jr"), and one
        # last name no contact of this account has.
        fake = _EveryTrigramHeldBy(0.001, leads=("miller01", "miller05", "miller99"))
        # ... and one the index's statistics list for this account.
        fake.account_leads = {str(alice.account_id): {"miller03": 0.01}}
        monkeypatch.setattr(contacts_db, "_trigram_stats", fake)
    elif statistics != "as analyzed":
        share = {"a fair share": 0.05, "most": 0.5}[statistics]
        monkeypatch.setattr(contacts_db, "_trigram_stats", _EveryTrigramHeldBy(share))
    await add_contacts(db, alice.account_id, [f"Miller{i:02d}" for i in range(7)] + ["Smith"])
    await db.execute("UPDATE contacts SET last_name = 'Miller05 Jr' WHERE last_name = 'Miller05'")
    # A contact whose last name is not common but holds one that is, and one whose address
    # holds it: found by the index, in their places in the list.
    await add_contacts(db, alice.account_id, ["AMiller01x", "Zed"])
    await db.execute("UPDATE contacts SET company_name = 'miller01 & co' WHERE last_name = 'Zed'")
    await db.execute("ANALYZE contacts")

    async def walk(search: str) -> tuple[list[str], int]:
        names: list[str] = []
        after = None
        while True:
            variables = {"first": 3, "after": after, "search": search}
            page = (await chronik.graphql(PAGE, variables, token=alice.token)).ok()["contacts"]
            names += [edge["node"]["name"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        count = (await chronik.graphql(COUNT, {"search": search}, token=alice.token)).ok()
        return names, count["contacts"]["totalCount"]

    millers = [f"Miller{i:02d}" for i in range(5)] + ["Miller05 Jr", "Miller06"]
    assert await walk("MILLER") == (["AMiller01x", *millers, "Zed"], 9)
    assert await walk("@other.test") == (["AMiller01x", *millers, "Smith", "Zed"], 10)
    assert await walk("ller03@") == (["Miller03"], 1)
    assert await walk("ller03") == (["Miller03"], 1)
    assert await walk("ller01") == (["AMiller01x", "Miller01", "Zed"], 3)
    assert await walk("miller05 j") == (["Miller05 Jr"], 1)
    assert await walk("iller05") == (["Miller05 Jr"], 1)
    assert await walk("nobody") == ([], 0)


async def test_asking_for_the_count_alone_runs_no_search_for_a_page(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await add_contacts(db, alice.account_id, ["Miller", "Smith"])
    chronik.statements.clear()
    result = await chronik.graphql(COUNT, {"search": "mill"}, token=alice.token)
    assert result.ok()["contacts"] == {"totalCount": 1, "totalCountIsExact": True}
    assert not [s for s in chronik.statements if "ORDER BY c.sort_key" in s]
    # The page's arguments are still checked, count or not.
    bad = await chronik.graphql(
        'query { contacts(first: 0, search: "mill") { totalCount } }', token=alice.token
    )
    assert bad.error_codes == ["VALIDATION"]
    long = await chronik.graphql(COUNT, {"search": "x" * 201}, token=alice.token)
    assert long.errors[0]["extensions"]["field"] == "search"
    both = await chronik.graphql(
        '{ contacts(first: 1, search: "mill") { totalCount edges { node { name } } } }',
        token=alice.token,
    )
    assert both.ok()["contacts"] == {"totalCount": 1, "edges": [{"node": {"name": "Miller"}}]}
