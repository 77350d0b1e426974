"""Fixtures shared by every test: real PostgreSQL, a running Chronik, users of two accounts."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import hypothesis
import pytest

# Registers the dummy provider: first, before any import builds the GraphQL schema.
from tests.support import dummy_provider  # noqa: F401  # isort: skip
from app.settings import Environment, Settings
from db.embedded import start_embedded_postgres
from db.provisioning import provision_user
from tests.support.postgres import clone_database, create_template, drop_database, with_database
from tests.support.sandboxes import Sandboxes, start_sandboxes
from tests.support.server import RunningChronik, free_port, running_chronik

pytest_plugins = ["tests.support.secret_watch", "pytester"]

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32

# Hypothesis profiles: "ci" (the default) keeps the stateful convergence test fast; "long"
# (`pytest --hypothesis-profile=long`) is the ≥ 500-example run. Tests that set max_examples
# themselves keep it under both.
# CI runs a fixed set of examples (derandomize), so a red build always names a reproducible
# history; the long profile explores fresh random ones.
hypothesis.settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "long", hypothesis.settings.get_profile("ci"), derandomize=False, max_examples=500
)
hypothesis.settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    """The server the tests use: CHRONIK_TEST_DATABASE_URL, or an embedded one (pgserver).

    The embedded server's directory is our own, not under pytest's base temp: pytest keeps
    only the newest three base temps, so a second pytest run started on the same machine
    would delete this run's database from under it."""
    configured = os.environ.get("CHRONIK_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Path(tempfile.mkdtemp(prefix="chronik-test-pg-"))
    # The embedded server stops at exit (db/embedded.py); registered before that, this runs
    # after it (LIFO).
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    yield start_embedded_postgres(data_dir)


@pytest.fixture(scope="session")
def template_database(postgres_admin_dsn: str) -> Iterator[str]:
    name = asyncio.run(create_template(postgres_admin_dsn))
    yield name
    asyncio.run(drop_database(postgres_admin_dsn, name))


@pytest.fixture
async def database_url(postgres_admin_dsn: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test alone."""
    name = await clone_database(postgres_admin_dsn, template_database)
    yield with_database(postgres_admin_dsn, name)
    await drop_database(postgres_admin_dsn, name)


@pytest.fixture
async def empty_database_url(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """A fresh database with no migrations applied."""
    name = await clone_database(postgres_admin_dsn, None)
    yield with_database(postgres_admin_dsn, name)
    await drop_database(postgres_admin_dsn, name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, for arranging data and checking rows."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
async def sandboxes() -> AsyncIterator[Sandboxes]:
    """The Google and Microsoft sandboxes on ephemeral ports, fresh for this test."""
    running = await start_sandboxes()
    yield running
    await running.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, sandboxes: Sandboxes) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        data_dir=tmp_path / "chronik",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        public_url=f"http://127.0.0.1:{free_port()}",  # type: ignore[arg-type]
        providers={
            "google": {"sandbox_url": sandboxes.google_url},
            "microsoft": {"sandbox_url": sandboxes.microsoft_url},
        },
        # Tests read whole timelines over and over; the budget has tests of its own
        # (tests/security/test_query_cost.py).
        graphql_budget_points=10**9,
    )


@pytest.fixture
async def chronik(settings: Settings) -> AsyncIterator[RunningChronik]:
    """Chronik serving over real HTTP on an ephemeral port, against the test database."""
    async with running_chronik(settings) as server:
        yield server


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a test class, despite its name
    email: str
    token: str
    account_id: int
    user_id: int


async def make_user(
    db: asyncpg.Connection, account: str, email: str, domains: tuple[str, ...] = ()
) -> TestUser:
    made = await provision_user(db, account_name=account, email=email, domains=domains)
    return TestUser(email, made.token, made.account.id, made.user.id)


@pytest.fixture
async def alice(db: asyncpg.Connection) -> TestUser:
    """Admin of account Acme (internal domain acme.test)."""
    return await make_user(db, "Acme", "alice@acme.test", ("acme.test",))


@pytest.fixture
async def bob(db: asyncpg.Connection) -> TestUser:
    """Admin of another account, Globex: must never see Acme's data."""
    return await make_user(db, "Globex", "bob@globex.test", ("globex.test",))
