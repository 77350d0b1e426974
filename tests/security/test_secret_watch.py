"""The whole-run secret check (tests/support/secret_watch.py) can fail: planted leaks are found,
in this process's log records and in a subprocess's, and they fail the run."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import TEST_SECRET_KEY, TestUser
from tests.support import secret_watch
from tests.support.linking import sandbox_control
from tests.support.sandboxes import Sandboxes
from tests.support.secret_watch import SecretWatch, find_leaks, subprocess_env
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

ROOT = Path(__file__).resolve().parents[2]


def test_find_leaks_names_the_line_and_masks_the_secret() -> None:
    secret = "chronik_" + secrets.token_urlsafe(32)
    lines = [
        ("pytest.log", '{"message": "GET /graphql 200"}'),
        ("pytest.log", f'{{"message": "calling with {secret}"}}'),
        ("4242.log", '{"message": "Authorization: Bearer [REDACTED]"}'),
    ]
    leaks = find_leaks([secret, "short"], lines, "t::one")
    assert [(leak.test, leak.source) for leak in leaks] == [("t::one", "pytest.log")]
    assert secret not in leaks[0].line and "calling with <secret chro…>" in leaks[0].line


def session_log() -> list[tuple[str, str]]:
    """Every line the session's watch copied from this process so far."""
    directory = Path(subprocess_env()["CHRONIK_TEST_LOG_COPY"])
    return [("pytest.log", line) for line in (directory / "pytest.log").read_text().splitlines()]


def test_the_session_copies_chronik_debug_records_as_production_writes_them() -> None:
    planted = secrets.token_hex(20)  # made here, unknown to the session's watch: no failure
    log = logging.getLogger("chronik.planted")
    log.info("Authorization: Bearer %s", planted)  # masked by the production redaction
    assert find_leaks([planted], session_log(), "redacted") == []

    log.debug("sent %s to the provider", planted)  # DEBUG: below what tests normally see
    leaks = find_leaks([planted], session_log(), "careless")
    assert len(leaks) == 1 and "sent <secret" in leaks[0].line


def test_a_watch_finds_a_remembered_secret_in_lines_logged_during_a_test(tmp_path: Path) -> None:
    planted = secrets.token_hex(20)
    (tmp_path / "4242.log").write_text(f"start\nrefreshing with {planted}\npartial {planted}")
    watch = SecretWatch(tmp_path)
    watch.remember(planted)
    watch.check("a test")
    # The unfinished last line is read once the process has finished writing it.
    assert [(leak.test, leak.source) for leak in watch.leaks] == [("a test", "4242.log")]
    watch.remember("x" * 30)
    watch.check("the next test")
    assert len(watch.leaks) == 1  # lines are read once; a later test's secrets are its own


def test_a_subprocess_log_line_is_caught() -> None:
    planted = secrets.token_hex(20)
    code = f"import logging; logging.getLogger('chronik.worker').warning('token {planted}')"
    env = {**os.environ, **subprocess_env()}
    assert "CHRONIK_TEST_LOG_COPY" in env  # the session's watch is running
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    directory = Path(env["CHRONIK_TEST_LOG_COPY"])
    copied = [p for p in directory.glob("*.log") if planted in p.read_text()]
    assert copied and copied[0].name != "pytest.log"
    # `token <value>` is no pattern the redaction knows: only the exact-secret check finds it.
    assert find_leaks([planted], [(copied[0].name, copied[0].read_text())], "sub")


def test_a_leak_fails_the_whole_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(
        test_leaky=textwrap.dedent(
            """
            import logging
            from tests.support.secret_watch import remember

            def test_passes_but_logs_a_token():
                token = "at." + "L" * 40  # no pattern the redaction knows
                remember(token)
                logging.getLogger("chronik.careless").error("retrying with %s", token)

            def test_clean():
                logging.getLogger("chronik.fine").error("nothing to see")
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "tests.support.secret_watch", "-q")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*secrets in log lines*", "*test_passes_but_logs_a_token*"])
    assert "L" * 40 not in result.stdout.str()


async def test_the_watch_knows_the_secrets_a_linked_calendar_issues(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
) -> None:
    await linked_calendar(chronik, alice, db, "MICROSOFT")
    watch = secret_watch._watch
    assert watch is not None
    known = watch.test_secrets | watch.session_secrets
    state = await db.fetchval("SELECT push_channel_id FROM calendar_connections")
    listed = await sandbox_control(chronik, "MICROSOFT", "GET", "subscriptions")
    client_state = next(s["clientState"] for s in listed["value"] if s["id"] == state)
    issued = sandboxes.microsoft.authority.issued_tokens()
    assert len(issued) >= 2  # an access and a refresh token
    assert {alice.token, TEST_SECRET_KEY, client_state, *issued} <= known
