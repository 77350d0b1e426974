"""What an operator sees: `/metrics`, structured logs without secrets, `chronik status` and
`chronik sync --user`."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings
from telemetry.logs import JsonFormatter, configure_logging
from tests.conftest import TEST_SECRET_KEY, TestUser
from tests.support.linking import link_calendar, sandbox_control
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik, free_port, running_chronik
from tests.support.sync import linked_calendar
from tests.support.workers import WorkerProcess, chronik_env
from tests.support.ws import GraphQLSocket

SOON = datetime.now(UTC) + timedelta(days=2)
TIMELINE = "subscription($id: ID!) { contactTimeline(contactId: $id) { kind } }"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(chronik: RunningChronik) -> Samples:
    response = await chronik.http.get(f"{chronik.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_metrics_after_a_sync_count_runs_graphql_requests_and_provider_calls(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    before = await scrape(chronik)
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test")
    await cal.calendar.create(title="Kickoff", start=SOON, guests=["carla@client.test"])
    state = await cal.sync()
    (await chronik.graphql("query WhoAmI { me { email } }", token=alice.token)).ok()
    after = await scrape(chronik)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("chronik_sync_runs_total", provider="google", outcome="ok") >= 2
    assert grew("chronik_sync_events_total", provider="google") >= 1
    assert grew("chronik_graphql_requests_total", operation="WhoAmI", outcome="ok") == 1
    assert grew("chronik_graphql_request_duration_seconds_count", operation="WhoAmI") == 1
    assert grew("chronik_graphql_requests_total", type="mutation") >= 1  # syncCalendarNow
    assert grew("chronik_provider_requests_total", provider="google", status="200") >= 2
    assert grew("chronik_provider_request_duration_seconds_count", provider="google") >= 2
    assert ("chronik_live_subscriptions", frozenset()) in after
    assert ("chronik_listen_reconnects_total", frozenset()) in after
    assert ("chronik_sync_oldest_lease_age_seconds", frozenset()) in after
    assert state["lastError"] is None


async def test_metrics_count_open_live_subscriptions(
    chronik: RunningChronik, alice: TestUser
) -> None:
    carla = (
        await chronik.graphql(
            'mutation { createContact(input: {email: "carla@client.test"}) { id } }',
            token=alice.token,
        )
    ).ok()["createContact"]["id"]
    baseline = value(await scrape(chronik), "chronik_live_subscriptions")
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    try:
        await socket.subscribe(TIMELINE, {"id": carla})
        for _ in range(250):
            if value(await scrape(chronik), "chronik_live_subscriptions") == baseline + 1:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the open subscription was never counted")
    finally:
        await socket.close()
    for _ in range(250):
        if value(await scrape(chronik), "chronik_live_subscriptions") == baseline:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the closed subscription is still counted")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log record of this process, as the JSON lines production writes."""
    root = logging.getLogger()
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = (root.level, [(lg, list(lg.handlers), lg.propagate) for lg in uvicorn_loggers])
    out = io.StringIO()
    handler = configure_logging(json=True, stream=out)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for lg, handlers, propagate in saved[1]:
            lg.handlers[:] = handlers
            lg.propagate = propagate


async def test_json_logs_carry_context_fields_and_no_secrets(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    json_logs: io.StringIO,
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")  # OAuth callback, first sync
    await cal.sync()
    (await chronik.graphql("query WhoAmI { me { email } }", token=alice.token)).ok()
    # Careless code logging credentials is masked too.
    secret = sandboxes.google.oauth.issued_tokens()[-1]
    logging.getLogger("chronik.careless").warning(
        "calling with Authorization: Bearer %s, %s and ?refresh_token=%s&x=1",
        secret,
        alice.token,
        secret,
    )

    text = json_logs.getvalue()
    records = [orjson.loads(line) for line in text.splitlines()]
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    graphql = [r for r in records if r["logger"] == "chronik.access" and "/graphql" in r["message"]]
    assert graphql and all(len(r["request_id"]) >= 8 for r in graphql)
    assert any(r.get("account_id") == alice.account_id for r in graphql)
    callback = [r for r in records if "/callback?" in r["message"]]
    assert callback and "code=[REDACTED]" in callback[0]["message"]
    synced = [r for r in records if r["logger"] == "chronik.worker" and "synced" in r["message"]]
    assert synced
    assert {"connection_id", "provider", "sync_phase", "account_id"} <= synced[0].keys()
    assert synced[0]["provider"] == "google"

    secrets = [alice.token, TEST_SECRET_KEY, *sandboxes.google.oauth.issued_tokens()]
    assert len(secrets) >= 4  # an API token, the key, access and refresh tokens
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    careless = next(r for r in records if r["logger"] == "chronik.careless")
    assert careless["message"].count("[REDACTED]") == 3


def test_a_log_line_quoting_a_lone_surrogate_is_written_not_lost() -> None:
    # A caller's name with a lone surrogate, quoted in a message, has no UTF-8 form: orjson
    # refused it and the line was lost, with a traceback on stderr.
    record = logging.LogRecord(
        "chronik.graphql", logging.DEBUG, __file__, 1, "unknown field %r", ("\ud800",), None
    )
    line = JsonFormatter().format(record)
    assert orjson.loads(line)["message"] == "unknown field '\\ud800'"
    record = logging.LogRecord("chronik.graphql", logging.INFO, __file__, 1, "x\udc00", (), None)
    assert orjson.loads(JsonFormatter().format(record))["message"] == "x\ufffd"


async def run_cli(chronik: RunningChronik, *args: str) -> tuple[int, str]:
    """`chronik <args>` in another process against the test database; (exit code, output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        env=chronik_env(chronik.settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_status_names_a_failing_connection_and_its_reason(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    await linked_calendar(chronik, alice, db, "GOOGLE")
    await linked_calendar(chronik, bob, db, "GOOGLE")
    before = await scrape(chronik)
    # Bob removes Chronik's access in his Google account; his next sync cannot continue.
    await sandbox_control(chronik, "GOOGLE", "POST", "oauth/revoke-user", {"email": bob.email})
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=bob.token)).ok()
    for _ in range(500):
        if (
            await db.fetchval(
                "SELECT status FROM calendar_connections WHERE user_id = $1", bob.user_id
            )
            == "needs_reauth"
        ):
            break
        await asyncio.sleep(0.02)
    reason = await db.fetchval(
        "SELECT last_error FROM calendar_connections WHERE user_id = $1", bob.user_id
    )
    assert reason
    after = await scrape(chronik)
    for name in ("chronik_sync_runs_total", "chronik_sync_failures_total"):
        labels = {"outcome": "needs_reauth"} if name == "chronik_sync_runs_total" else {}
        grew = value(after, name, provider="google", **labels) - value(
            before, name, provider="google", **labels
        )
        assert grew == 1, name

    code, output = await run_cli(chronik, "status")

    assert code == 0, output
    assert "connections: 2 (active 1, needs_reauth 1)" in output
    failing = output.split("failing: 1\n", 1)[1]
    assert bob.email in failing and reason in failing
    assert alice.email not in failing
    assert "integrity: no orphaned rows" in output


async def test_status_reports_rows_a_hand_written_delete_orphaned(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    """The bulk tables have no foreign keys (migration 0005): a contact deleted by hand, not
    through db/, leaves its timeline entries behind, and `chronik status` says so."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test")
    await cal.calendar.create(title="Renewal", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    assert await db.fetchval("SELECT count(*) FROM timeline_entries") == 1
    code, output = await run_cli(chronik, "status")
    assert code == 0 and "integrity: no orphaned rows" in output, output

    await db.execute("DELETE FROM contacts")

    code, output = await run_cli(chronik, "status")
    assert code == 0, output
    assert "integrity: 1 orphaned rows" in output
    assert "timeline entries without their contact: 1" in output


async def test_sync_command_runs_a_users_sync_through_the_servers_worker(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(title="Renewal", start=SOON, guests=["carla@client.test"])

    code, output = await run_cli(chronik, "sync", "--user", alice.email, "--timeout", "30")

    assert code == 0, output
    # A push from the sandbox may have synced the meeting already; the command still waits
    # for a run that started after its request.
    assert "requested" in output and "synced: " in output
    assert await cal.titles(carla) == ["Renewal"]


async def test_sync_command_for_an_unknown_user_fails_with_a_reason(
    chronik: RunningChronik,
) -> None:
    code, output = await run_cli(chronik, "sync", "--user", "nobody@acme.test")
    assert code == 1
    assert "nobody@acme.test has no linked calendar" in output


@pytest.fixture
async def api_only(settings: Settings) -> AsyncIterator[RunningChronik]:
    """An API process without a sync worker: syncing happens in `chronik worker` processes."""
    async with running_chronik(settings.model_copy(update={"run_worker": False})) as server:
        yield server


async def test_sync_command_follows_a_long_initial_sync_by_a_worker_process(
    api_only: RunningChronik, alice: TestUser, tmp_path: Path
) -> None:
    await link_calendar(api_only, alice.token, "GOOGLE", alice.email)
    await sandbox_control(
        api_only, "GOOGLE", "POST", f"calendars/{alice.email}/events:bulk", {"count": 1500}
    )
    command = asyncio.ensure_future(
        run_cli(api_only, "sync", "--user", alice.email, "--timeout", "60")
    )
    await asyncio.sleep(1)  # the command waits: no worker runs yet
    worker = WorkerProcess(api_only.settings, tmp_path / "worker.log")
    try:
        code, output = await command
    finally:
        worker.terminate()

    assert code == 0, output
    lines = output.splitlines()
    assert "0 events read · initial sync · waiting for a worker" in lines
    assert lines[-1] == "synced: 1500 events read, now incremental"


async def test_a_worker_process_serves_its_sync_metrics(
    api_only: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    port = free_port()
    # The worker's port listens on every interface: it takes the same token as `/metrics`.
    env = chronik_env(
        api_only.settings,
        CHRONIK_WORKER_METRICS_PORT=str(port),
        CHRONIK_METRICS_TOKEN="worker-scrape-token-0123456789",
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "worker", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        await linked_calendar(api_only, alice, db, "GOOGLE")  # synced by the worker
        anonymous = await api_only.http.get(url)
        wrong = await api_only.http.get(url, headers={"Authorization": "Bearer guess"})
        response = await api_only.http.get(
            url, headers={"Authorization": "Bearer worker-scrape-token-0123456789"}
        )
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 30)

    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert "chronik_" not in anonymous.text + wrong.text
    assert response.status_code == 200
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert value(samples, "chronik_sync_runs_total", provider="google", outcome="ok") >= 1
    assert value(samples, "chronik_provider_requests_total", provider="google", status="200") >= 1
