"""Secrets at rest: a dump of the database holds no usable credential, and an API token is
checked by its hash, so a near miss gets nothing.

API tokens are stored as SHA-256 (`db.users.hash_token`) and looked up by that hash
(`db.users.user_for_token`): the secret itself is never compared, so the comparison cannot
leak it byte by byte. Push channel tokens and Graph clientState values are stored hashed too
and compared with `hmac.compare_digest` (`sync.webhooks`). OAuth tokens are encrypted.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets

import asyncpg

from tests.conftest import TEST_SECRET_KEY, TestUser
from tests.support.linking import sandbox_control
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar


async def dump(database_url: str, db: asyncpg.Connection) -> str:
    """`pg_dump` of the test database; every table's rows as text if pg_dump cannot read it
    (a client older than the server)."""
    process = await asyncio.create_subprocess_exec(
        "pg_dump",
        "--no-owner",
        database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode == 0:
        return out.decode()
    tables = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    rows = []
    for table in tables:
        rows += [str(r[0]) for r in await db.fetch(f'SELECT t::text FROM "{table[0]}" t')]
    return "\n".join(rows)


def forms(secret: str) -> list[str]:
    """The ways a secret could sit in a dump: as text, hex (bytea) or Postgres' escape."""
    return [secret, secret.encode().hex()]


async def test_a_database_dump_holds_no_token_key_or_push_secret(
    chronik: RunningChronik,
    alice: TestUser,
    bob: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    database_url: str,
) -> None:
    await linked_calendar(chronik, alice, db, "GOOGLE")
    await linked_calendar(chronik, bob, db, "MICROSOFT")
    channels = await sandbox_control(chronik, "GOOGLE", "GET", "channels")
    subscriptions = await sandbox_control(chronik, "MICROSOFT", "GET", "subscriptions")
    push_secrets = [c["token"] for c in channels["channels"]] + [
        s["clientState"] for s in subscriptions["value"]
    ]
    oauth = [
        *sandboxes.google.oauth.issued_tokens(),
        *sandboxes.microsoft.authority.issued_tokens(),
    ]
    assert len(oauth) >= 4 and len(push_secrets) == 2  # both linked, both pushing

    text = await dump(database_url, db)

    assert "calendar_connections" in text and alice.email in text  # it is a real dump
    for secret in [alice.token, bob.token, TEST_SECRET_KEY, *oauth, *push_secrets]:
        for form in forms(secret):
            assert form not in text, secret[:6]


async def test_a_wrong_token_of_the_right_form_is_unauthenticated(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    assert (await chronik.graphql("{ me { email } }", token=alice.token)).ok()
    prefix, body = alice.token[:-1], alice.token[-1]
    near_misses = [
        prefix + ("A" if body != "A" else "B"),  # one character off
        alice.token[:-4],  # a prefix of the real token
        alice.token + "x",
        "chronik_" + secrets.token_urlsafe(32),  # the same form, another value
        alice.token.upper(),
    ]
    for token in near_misses:
        assert len(token) > 20
        result = await chronik.graphql("{ me { email } }", token=token)
        assert result.data is None and result.error_codes == ["UNAUTHENTICATED"], token[:12]
    # What is stored is the hash the lookup uses; the token itself is nowhere.
    stored = await db.fetchval("SELECT token_hash FROM api_tokens")
    assert bytes(stored) == hashlib.sha256(alice.token.encode()).digest()
