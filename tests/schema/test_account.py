"""The account and its internal domains."""

from __future__ import annotations

import asyncpg

from tests.conftest import TestUser, make_user
from tests.support.server import RunningChronik

ADD = "mutation($d: String!) { addAccountDomain(domain: $d) { domains } }"
REMOVE = "mutation($d: String!) { removeAccountDomain(domain: $d) { domains } }"


async def test_admin_adds_and_removes_domains(chronik: RunningChronik, alice: TestUser) -> None:
    added = await chronik.graphql(ADD, {"d": " Acme-Sales.TEST "}, token=alice.token)
    assert added.ok()["addAccountDomain"]["domains"] == ["acme-sales.test", "acme.test"]
    again = await chronik.graphql(ADD, {"d": "acme-sales.test"}, token=alice.token)
    assert again.ok()["addAccountDomain"]["domains"] == ["acme-sales.test", "acme.test"]
    removed = await chronik.graphql(REMOVE, {"d": "acme.test"}, token=alice.token)
    assert removed.ok()["removeAccountDomain"]["domains"] == ["acme-sales.test"]
    missing = await chronik.graphql(REMOVE, {"d": "acme.test"}, token=alice.token)
    assert missing.error_codes == ["NOT_FOUND"]


async def test_invalid_domain_is_a_validation_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    for bad in ("not a domain", "", "localhost"):
        assert (await chronik.graphql(ADD, {"d": bad}, token=alice.token)).error_codes == [
            "VALIDATION"
        ]


async def test_members_cannot_change_domains(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    member = await make_user(db, "Acme", "max@acme.test")
    result = await chronik.graphql(ADD, {"d": "evil.test"}, token=member.token)
    assert result.error_codes == ["FORBIDDEN"]
    me = await chronik.graphql("{ me { isAdmin account { name domains } } }", token=member.token)
    assert me.ok()["me"] == {
        "isAdmin": False,
        "account": {"name": "Acme", "domains": ["acme.test"]},
    }


async def test_domains_are_per_account(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    await chronik.graphql(ADD, {"d": "alice-only.test"}, token=alice.token)
    bobs = await chronik.graphql("{ account { name domains } }", token=bob.token)
    assert bobs.ok()["account"] == {"name": "Globex", "domains": ["globex.test"]}
