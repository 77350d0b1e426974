"""`chronik token create|list|revoke`: a lost token is replaced, listed without its secret, and
a revoked token stops answering at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.workers import chronik_env

ME = "{ me { email } }"


async def run_chronik(server: RunningChronik, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", *args],
        env=chronik_env(server.settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_lost_token_is_replaced_listed_and_revoked(
    chronik: RunningChronik, alice: TestUser
) -> None:
    made = await run_chronik(
        chronik, "token", "create", "--email", "Alice@acme.test", "--label", "laptop"
    )
    assert made.returncode == 0, made.stderr
    new_token = made.stdout.strip()
    assert new_token.startswith("chronik_") and new_token != alice.token
    assert new_token not in made.stderr  # shown once, on stdout only
    assert (await chronik.graphql(ME, token=new_token)).ok() == {"me": {"email": alice.email}}

    listed = await run_chronik(chronik, "token", "list", "--email", alice.email)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.strip().splitlines()
    assert header.split("\t") == ["id", "created_at", "last_used_at", "label"]
    assert len(rows) == 2 and rows[1].endswith("\tlaptop")
    assert new_token not in listed.stdout and alice.token not in listed.stdout
    old_id, new_id = (row.split("\t")[0] for row in rows)

    revoked = await run_chronik(chronik, "token", "revoke", "--id", old_id)
    assert revoked.returncode == 0 and "revoked 1 token" in revoked.stderr
    assert (await chronik.graphql(ME, token=alice.token)).error_codes == ["UNAUTHENTICATED"]
    assert (await chronik.graphql(ME, token=new_token)).ok()
    again = await run_chronik(chronik, "token", "revoke", "--id", old_id)
    assert again.returncode == 1 and f"no unrevoked token has id {old_id}" in again.stderr

    everything = await run_chronik(chronik, "token", "revoke", "--email", alice.email, "--all")
    assert everything.returncode == 0 and "revoked 1 token" in everything.stderr
    assert (await chronik.graphql(ME, token=new_token)).error_codes == ["UNAUTHENTICATED"]
    left = await run_chronik(chronik, "token", "list", "--email", alice.email)
    assert left.stdout.strip().splitlines()[1:] == []
    assert new_id not in left.stdout


async def test_token_commands_refuse_unknown_users_and_unconfirmed_mass_revokes(
    chronik: RunningChronik, alice: TestUser
) -> None:
    unknown = await run_chronik(chronik, "token", "create", "--email", "nobody@acme.test")
    assert unknown.returncode == 1 and "no user has email nobody@acme.test" in unknown.stderr
    assert unknown.stdout == ""
    unconfirmed = await run_chronik(chronik, "token", "revoke", "--email", alice.email)
    assert unconfirmed.returncode == 2 and "--all" in unconfirmed.stderr
    assert (await chronik.graphql(ME, token=alice.token)).ok()  # nothing was revoked
