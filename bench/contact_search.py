"""Benchmark: contact search and totalCount at 1,000,000 contacts, at the SQL level and over
GraphQL, optionally A/B against another tree's `db/contacts.py` on the same database.

    .venv/bin/python bench/contact_search.py --database search_1m [--contacts 1000000]
        [--reload] [--searches 30] [--levels sql,graphql] [--ab-tree /tmp/old-tree]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

The database is kept between runs (loading 1,000,000 contacts takes minutes): it is made
(migrations, an account, `big_account.load_account` and the sandbox mix's 5,000 contacts,
VACUUM ANALYZE) only when missing or with `--reload`; otherwise it is migrated to this tree
and reused as it is. The searches are those of `bench/big_account.py` (a common last name, a
company, one contact's exact address, six letters from the middle of an address) plus a
first name and no search; each kind as a page (`first: 20`) and as `totalCount` alone.

With `--ab-tree`, the same searches also run through that tree's code (a `git archive` of an
older commit, say), request by request taking turns with this tree's, so both see the same
machine. The schema stays this tree's: an A/B is only fair for changes the old code ignores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asyncpg
import common
import httpx
from big_account import COMPANIES, COUNT, FIRST, LAST, MIX_CONTACTS, SEARCH, load_account, pct

from db import contacts as contacts_db
from db.migrate import apply_migrations
from db.users import create_api_token

OWNER = "owner@search.test"


async def prepare(admin: str, name: str, n: int, reload: bool) -> tuple[str, int, int]:
    """The database's DSN, its account and owner user (loaded first when needed)."""
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await conn.close()
    if exists and not reload:
        dsn = common.with_database(admin, name)
        conn = await asyncpg.connect(dsn)
        try:
            await apply_migrations(conn)
            user = await conn.fetchrow("SELECT id, account_id FROM users WHERE email = $1", OWNER)
            assert user is not None, f"{name} was not made by this benchmark: use --reload"
            await conn.execute("ANALYZE contacts")
            return dsn, user["account_id"], user["id"]
        finally:
            await conn.close()
    dsn = await common.create_database(admin, name)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    account_id, user_id, _token = await common.provision(dsn, OWNER, "search.test")
    conn = await asyncpg.connect(dsn)
    try:
        seconds = await load_account(conn, account_id, n)
        await common.add_bulk_contacts(conn, account_id, MIX_CONTACTS)
        await conn.execute("VACUUM ANALYZE contacts")
        await conn.execute("VACUUM ANALYZE contact_emails")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    print(f"  {n:,} contacts loaded in {seconds:.1f} s; database {size}", flush=True)
    return dsn, account_id, user_id


async def terms(dsn: str, account_id: int, count: int) -> dict[str, list[str | None]]:
    """`count` searches of each kind, the same on every run (seeded)."""
    rng = random.Random(20)
    conn = await asyncpg.connect(dsn)
    try:
        total = await conn.fetchval(
            "SELECT max(id) FROM contacts WHERE account_id = $1", account_id
        )
        kinds: dict[str, list[str | None]] = {
            "last name": [],
            "company": [],
            "exact address": [],
            "part of an address": [],
            "first name": [],
            "no search": [],
        }
        for _ in range(count):
            email = None
            while email is None:
                email = await conn.fetchval(
                    "SELECT email FROM contacts WHERE account_id = $1 AND id >= $2"
                    " ORDER BY id LIMIT 1",
                    account_id,
                    rng.randrange(total),
                )
            kinds["last name"].append(rng.choice(LAST))
            kinds["company"].append(f"company {rng.randrange(COMPANIES)}")
            kinds["exact address"].append(email)
            local = email.split("@")[0]
            cut = rng.randrange(max(1, len(local) - 6))
            kinds["part of an address"].append(local[cut : cut + 6])
            kinds["first name"].append(rng.choice(FIRST))
            kinds["no search"].append(None)
        return kinds
    finally:
        await conn.close()


def load_module(tree: Path) -> ModuleType:
    """`db/contacts.py` of another tree, as a module of its own."""
    spec = importlib.util.spec_from_file_location("contacts_ab", tree / "db" / "contacts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


Call = Callable[[str, str | None], Awaitable[Any]]


async def measure(
    variants: dict[str, Call], kinds: dict[str, list[str | None]]
) -> dict[tuple[str, str], list[float]]:
    """Each search through every variant in turn; (variant, measure) → milliseconds."""
    out: dict[tuple[str, str], list[float]] = {}
    for kind, searches in kinds.items():
        for label in ("page", "totalCount"):
            for i, term in enumerate([searches[0], *searches]):  # the first warms up
                for variant, call in variants.items():
                    t0 = time.perf_counter()
                    await call(label, term)
                    ms = 1000 * (time.perf_counter() - t0)
                    if i:
                        out.setdefault((variant, f"{label}: {kind}"), []).append(ms)
    return out


def report(title: str, out: dict[tuple[str, str], list[float]]) -> None:
    variants = list(dict.fromkeys(v for v, _ in out))
    measures = list(dict.fromkeys(m for _, m in out))
    print(f"  {title}: {common.machine_line('end')}")
    head = "".join(f"{v + ' p50':>14}{'p95':>8}" for v in variants)
    print(f"    {'':36}{head}   (ms)")
    for m in measures:
        cells = "".join(
            f"{pct(out[(v, m)], 50):14.1f}{pct(out[(v, m)], 95):8.1f}" for v in variants
        )
        print(f"    {m:36}{cells}")
    sys.stdout.flush()


async def sql_level(
    dsn: str, account_id: int, kinds: dict[str, list[str | None]], ab: ModuleType | None
) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
    assert pool is not None
    try:

        def call(module: Any) -> Call:
            async def run(label: str, term: str | None) -> Any:
                if label == "page":
                    return await module.list_contacts(pool, account_id, limit=21, search=term)
                return await module.count_contacts(pool, account_id, term)

            return run

        variants = {"new": call(contacts_db)}
        if ab is not None:
            variants = {"old": call(ab), **variants}
        print(f"  SQL level: {common.machine_line('start')}", flush=True)
        report("SQL level (list_contacts 21 rows / count_contacts)", await measure(variants, kinds))
    finally:
        await pool.close()


async def graphql_level(
    dsn: str,
    user_id: int,
    kinds: dict[str, list[str | None]],
    trees: dict[str, Path],
    stack: contextlib.AsyncExitStack,
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        token = await create_api_token(conn, user_id, label="bench contact_search")
    finally:
        await conn.close()
    workdir = Path(tempfile.mkdtemp(prefix="chronik-bench-search-"))
    variants: dict[str, Call] = {}
    for variant, tree in trees.items():
        port = common.free_port()
        api = f"http://127.0.0.1:{port}"
        env = common.chronik_env(
            dsn,
            api,
            workdir / f"data-{variant}",
            CHRONIK_RUN_WORKER="false",
            # Each server's own sandboxes (a test-mode server starts them), on free ports.
            CHRONIK_SANDBOX_GOOGLE_PORT=str(common.free_port()),
            CHRONIK_SANDBOX_MICROSOFT_PORT=str(common.free_port()),
        )
        env["PYTHONPATH"] = str(tree)
        serve = common.Child(
            common.python_cmd("-m", "app.cli", "serve", "--port", str(port)),
            env,
            workdir / f"serve-{variant}.log",
            cwd=tree,
        )
        stack.callback(serve.stop)
        await common.wait_http(f"{api}/readyz", serve)
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=120, headers={"Authorization": f"Bearer {token}"})
        )

        def call(http: httpx.AsyncClient, api: str) -> Call:
            async def run(label: str, term: str | None) -> Any:
                query = SEARCH if label == "page" else COUNT
                r = await http.post(
                    f"{api}/graphql", json={"query": query, "variables": {"s": term}}
                )
                body = r.json()
                assert not body.get("errors"), body
                return body["data"]

            return run

        variants[variant] = call(http, api)
    print(f"  GraphQL level: {common.machine_line('start')}", flush=True)
    report("GraphQL (contacts(first: 20, search) / totalCount)", await measure(variants, kinds))


async def main_async(args: argparse.Namespace) -> None:
    print(common.machine_line("contact search benchmark"), flush=True)
    admin = common.admin_dsn(args.database_url)
    dsn, account_id, user_id = await prepare(admin, args.database, args.contacts, args.reload)
    kinds = await terms(dsn, account_id, args.searches)
    ab_tree: Path | None = args.ab_tree
    levels = args.levels.split(",")
    if "sql" in levels:
        await sql_level(dsn, account_id, kinds, load_module(ab_tree) if ab_tree else None)
    if "graphql" in levels:
        trees = {"new": common.ROOT}
        if ab_tree is not None:
            trees = {"old": ab_tree, **trees}
        async with contextlib.AsyncExitStack() as stack:
            await graphql_level(dsn, user_id, kinds, trees, stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="kept between runs")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--reload", action="store_true", help="make the database anew")
    parser.add_argument("--searches", type=int, default=30, help="per kind")
    parser.add_argument("--levels", default="sql,graphql")
    parser.add_argument("--ab-tree", help="another tree whose db/contacts.py runs in turn")
    parser.add_argument("--database-url", help="admin DSN (default: embedded pgserver)")
    args = parser.parse_args()
    args.ab_tree = Path(args.ab_tree).resolve() if args.ab_tree else None
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
