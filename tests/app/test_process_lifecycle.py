"""A `chronik` process on its own embedded PostgreSQL, from start to every kind of end.

Each test runs real `chronik` subprocesses on a data directory of its own (a copy of one
migrated once for the module) and looks at the machine's process table afterwards: no
PostgreSQL of that data directory may be left running, whatever stopped the command.

The data directories are not under pytest's temp dir: run as root, pgserver runs PostgreSQL
as another user and opens the path's folders to it, and every pytest session started on the
machine closes its base temp dir again (mode 0700), from under a running server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.server import free_port


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    """The running postgres processes whose data directory is `data_dir/pgdata`."""
    pgdata = str((data_dir / "pgdata").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if (
            process.info["name"] == "postgres"
            and process.info["status"] != psutil.STATUS_ZOMBIE
            and pgdata in cmdline
        ):
            found.append(process)
    return found


def no_postgres_left(data_dir: Path) -> bool:
    deadline = time.monotonic() + 15  # a stopping server's children take a moment to go
    while postgres_of(data_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def own_temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="chronik-test-lifecycle-", ignore_cleanup_errors=True)


@pytest.fixture(scope="module")
def migrated_data_dir() -> Iterator[Path]:
    """A data directory whose embedded database is initialised and migrated (and stopped)."""
    with own_temp_dir() as folder:
        yield _migrated(Path(folder) / "data")


def _migrated(data_dir: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
    env["CHRONIK_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert no_postgres_left(data_dir)
    return data_dir


class Chronik:
    """`chronik` commands on one data directory, with sandboxes on free ports."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
        self.env.update(
            CHRONIK_DATA_DIR=str(data_dir),
            CHRONIK_SANDBOX_GOOGLE_PORT=str(free_port()),
            CHRONIK_SANDBOX_MICROSOFT_PORT=str(free_port()),
        )
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        with self.log.open("a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args],
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def wait_for_log(self, text: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while text not in self.log.read_text():
            assert process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)

    def serve(self, port: int) -> subprocess.Popen[bytes]:
        process = self.start("serve", "--port", str(port))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            assert process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)


@pytest.fixture
def chronik(migrated_data_dir: Path, tmp_path: Path) -> Iterator[Chronik]:
    with own_temp_dir() as folder:
        data_dir = Path(folder) / "data"
        # `cp -a`: owners too (as root, the server's files belong to pgserver's own user).
        subprocess.run(["cp", "-a", str(migrated_data_dir), str(data_dir)], check=True)
        yield from _commands_on(data_dir, tmp_path / "chronik.log")


def _commands_on(data_dir: Path, log: Path) -> Iterator[Chronik]:
    commands = Chronik(data_dir, log)
    try:
        yield commands
    finally:
        for process in commands.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for leftover in postgres_of(data_dir):  # never leave a server behind a failed test
            leftover.kill()


def test_serve_refuses_busy_ports_in_one_line_each_and_stops_its_postgres_on_sigterm(
    chronik: Chronik,
) -> None:
    port = free_port()
    first = chronik.serve(port)
    assert postgres_of(chronik.data_dir)

    second = chronik.run("serve", "--port", str(port))
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    busy = [line for line in second.stderr.splitlines() if "is in use by" in line]
    holder = f"another Chronik (pid {first.pid}, data dir {chronik.data_dir})"
    google_port = chronik.env["CHRONIK_SANDBOX_GOOGLE_PORT"]
    microsoft_port = chronik.env["CHRONIK_SANDBOX_MICROSOFT_PORT"]
    assert busy == [
        f"chronik: port {port} (--port) is in use by {holder}",
        f"chronik: port {google_port} (CHRONIK_SANDBOX_GOOGLE_PORT) is in use by {holder}",
        f"chronik: port {microsoft_port} (CHRONIK_SANDBOX_MICROSOFT_PORT) is in use by {holder}",
    ]
    # The refusal took nothing from the first: it still answers, on its database.
    assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200

    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) in (0, -signal.SIGTERM)
    assert no_postgres_left(chronik.data_dir), chronik.log.read_text()
    assert "Application shutdown complete" in chronik.log.read_text()


def test_serve_port_flag_moves_the_links_and_ctrl_c_stops_its_postgres(chronik: Chronik) -> None:
    port = free_port()  # not CHRONIK_PUBLIC_URL's default 8000, which is unset here
    serve = chronik.serve(port)
    made = chronik.run("user", "create", "--account", "Acme", "--email", "ana@acme.test")
    assert made.returncode == 0, made.stderr
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    url = f"http://127.0.0.1:{port}/graphql"
    for query in (
        "mutation { installCalendarIntegration(provider: GOOGLE) { integrationProvider } }",
        "mutation { startCalendarLink(provider: GOOGLE) { authorizationUrl } }",
    ):
        answer = httpx.post(url, json={"query": query}, headers=headers).json()
        assert "errors" not in answer, answer
    link = answer["data"]["startCalendarLink"]["authorizationUrl"]
    assert link.startswith(f"http://127.0.0.1:{port}/oauth/google/start?")

    serve.send_signal(signal.SIGINT)
    assert serve.wait(timeout=60) in (0, 130)
    assert no_postgres_left(chronik.data_dir), chronik.log.read_text()


@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_worker_stops_its_postgres_when_stopped_by_a_signal(
    chronik: Chronik, stop: signal.Signals
) -> None:
    worker = chronik.start("worker")
    chronik.wait_for_log("sync worker", worker)
    assert postgres_of(chronik.data_dir)
    worker.send_signal(stop)
    assert worker.wait(timeout=60) == 0
    assert no_postgres_left(chronik.data_dir), chronik.log.read_text()


def test_a_failed_start_or_command_stops_its_postgres(chronik: Chronik) -> None:
    # An address that is not this machine's: the database starts, then listening fails.
    failed = chronik.run("serve", "--host", "192.0.2.1", "--port", str(free_port()))
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert no_postgres_left(chronik.data_dir), failed.stderr

    unknown = chronik.run("token", "list", "--email", "nobody@acme.test")
    assert unknown.returncode == 1
    assert no_postgres_left(chronik.data_dir)


def test_a_shared_server_outlives_a_command_and_a_killed_holder_s_is_taken_over(
    chronik: Chronik,
) -> None:
    worker = chronik.start("worker")
    chronik.wait_for_log("sync worker", worker)
    server = postgres_of(chronik.data_dir)
    # A command beside the worker shares its server, and leaves it running for the worker.
    assert chronik.run("status").returncode == 0
    assert postgres_of(chronik.data_dir) == server

    worker.kill()  # SIGKILL: no cleanup at all
    worker.wait()
    assert postgres_of(chronik.data_dir)  # what SIGKILL leaves behind
    # The next command finds no live holder, takes the server over and stops it on its exit.
    status = chronik.run("status")
    assert status.returncode == 0, status.stderr
    assert no_postgres_left(chronik.data_dir)


def test_a_port_held_by_another_program_is_named_as_such(chronik: Chronik) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = chronik.run(
            "sandbox", "--google-port", str(port), "--microsoft-port", str(free_port())
        )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"chronik: port {port} (--google-port) is in use by another program "
        f"({psutil.Process().name()}, pid {os.getpid()})"
    ]
