"""Shared plumbing of the Chronik benchmarks (sync_throughput.py, timeline_query.py).

PostgreSQL: `CHRONIK_TEST_DATABASE_URL` (or `--database-url`) when given, else an embedded
pgserver kept in `/tmp/chronik-bench/pgdata` (started once, reused by later runs). Every run
gets fresh databases of its own. Chronik and the sandboxes run as `python -m app.cli ...`
subprocesses listening on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-secret-key-" + "b" * 40
BENCH_DIR = Path(os.environ.get("CHRONIK_BENCH_DIR", "/tmp/chronik-bench"))


def machine_line(title: str) -> str:
    mem = psutil.virtual_memory().total / 2**30
    load = os.getloadavg()
    return (
        f"{title}: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC, nproc={os.cpu_count()}, "
        f"mem={mem:.1f} GiB, python {platform.python_version()}, "
        f"load avg {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ------------------------------------------------------------------------------


def admin_dsn(configured: str | None) -> str:
    dsn = configured or os.environ.get("CHRONIK_TEST_DATABASE_URL")
    if dsn:
        return dsn
    from db.embedded import start_embedded_postgres

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return start_embedded_postgres(BENCH_DIR)


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_database(admin: str, name: str) -> str:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return with_database(admin, name)


async def drop_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def postgres_processes(admin: str) -> list[psutil.Process]:
    """The processes of OUR PostgreSQL server (postmaster + backends), to count their CPU.
    Empty for a server that is not local to this machine or not found."""
    host = urlsplit(admin).hostname or ""
    query = urlsplit(admin).query
    marker = None
    for part in query.split("&"):
        if part.startswith("host="):
            marker = part[5:]
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            if proc.info["name"] != "postgres":
                continue
            cmd = " ".join(proc.info["cmdline"] or [])
            if marker and f"-D {marker}" in cmd:
                found.append(proc)
                found.extend(proc.children())
                break
        except (psutil.Error, TypeError):
            continue
    del host
    return found


def cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def stolen_seconds() -> float:
    """CPU seconds the virtual machine's host has taken from it since boot, all cores
    (Linux `steal`; 0 where it is not reported). On a shared host the same work can take
    twice the CPU seconds from one minute to the next: the benchmarks print this beside
    their figures so such a run can be told from a change of the code."""
    return float(getattr(psutil.cpu_times(), "steal", 0.0))


def probe_ms() -> float:
    """Milliseconds one core takes for a fixed piece of pure Python (the best of five): the
    machine's speed at that moment, printed beside a figure measured then. On this shared
    host it has varied by 1.6x within minutes, with no steal reported."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


class PostgresCpu:
    """CPU seconds used by our PostgreSQL server's processes (backends come and go: sampled
    as postmaster children at both ends; exited backends' CPU is counted through
    `children_user/system` of the postmaster)."""

    def __init__(self, admin: str) -> None:
        procs = postgres_processes(admin)
        self.postmaster = procs[0] if procs else None

    def total(self) -> float | None:
        if self.postmaster is None:
            return None
        try:
            t = self.postmaster.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for child in self.postmaster.children():
                with contextlib.suppress(psutil.Error):
                    c = child.cpu_times()
                    total += c.user + c.system
            return total
        except psutil.Error:
            return None


# -- Chronik processes -----------------------------------------------------------------------


def chronik_env(dsn: str, public_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
    env.update(
        {
            "CHRONIK_ENV": "test",
            "CHRONIK_DATABASE_URL": dsn,
            "CHRONIK_SECRET_KEY": SECRET_KEY,
            "CHRONIK_PUBLIC_URL": public_url,
            "CHRONIK_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


class Child:
    """A subprocess with its output in a log file; stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self, argv: list[str], env: dict[str, str] | None, log: Path, cwd: Path = ROOT
    ) -> None:
        self.log = log
        self._handle = log.open("ab")
        self.process = subprocess.Popen(
            argv, env=env, stdout=self._handle, stderr=subprocess.STDOUT, cwd=str(cwd)
        )
        self.ps = psutil.Process(self.process.pid)

    @property
    def pid(self) -> int:
        return self.process.pid

    def target(self) -> psutil.Process:
        """The Python process itself (the child of py-spy when profiled)."""
        with contextlib.suppress(psutil.Error):
            kids = self.ps.children()
            if kids and self.ps.name().startswith("py-spy"):
                return kids[0]
        return self.ps

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.target().pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except (OSError, psutil.Error):
            return None
        return None

    def rss_mb(self) -> float | None:
        with contextlib.suppress(psutil.Error):
            return self.target().memory_info().rss / 2**20
        return None

    def cpu(self) -> float:
        return cpu_seconds([self.target()])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            # py-spy forwards nothing: stop the Python child first, then py-spy writes its file
            target = self.target()
            with contextlib.suppress(psutil.Error):
                target.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, *args]


def start_sandboxes(workdir: Path) -> tuple[Child, str, str]:
    """The Google and Microsoft sandboxes in a child process of their own (`chronik sandbox`);
    returns it with the Google and Microsoft base URLs."""
    gport, mport = free_port(), free_port()
    child = Child(
        python_cmd(
            "-m", "app.cli", "sandbox", "--google-port", str(gport), "--microsoft-port", str(mport)
        ),
        chronik_env("postgresql://unused", "http://127.0.0.1:1", workdir / "data"),
        workdir / "sandbox.log",
    )
    return child, f"http://127.0.0.1:{gport}", f"http://127.0.0.1:{mport}"


def pyspy_cmd(out: Path, argv: list[str], rate: int = 250) -> list[str]:
    spy = Path(sys.executable).parent / "py-spy"
    return [str(spy), "record", "-r", str(rate), "-f", "raw", "-o", str(out), "--", *argv]


class PySpy:
    """py-spy attached to a running process (collapsed stacks, `raw`), stopped with SIGINT."""

    def __init__(self, pid: int, out: Path, rate: int = 200, duration: float | None = None):
        self.out = out
        spy = Path(sys.executable).parent / "py-spy"
        argv = [
            str(spy),
            "record",
            "-r",
            str(rate),
            "-f",
            "raw",
            "-o",
            str(out),
            "--pid",
            str(pid),
            "--nonblocking",
        ]
        if duration:
            argv += ["--duration", str(max(1, int(duration)))]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def wait_http(url: str, child: Child | None = None, within: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            if child is not None and not child.alive():
                raise RuntimeError(f"process exited early:\n{child.tail()}")
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {within}s")
            await asyncio.sleep(0.1)


async def provision(dsn: str, email: str, domain: str) -> tuple[int, int, str]:
    """(account id, user id, API token) of a new admin user."""
    from db.provisioning import provision_user

    conn = await asyncpg.connect(dsn)
    try:
        made = await provision_user(conn, account_name="Bench", email=email, domains=[domain])
    finally:
        await conn.close()
    return made.account.id, made.user.id, made.token


async def add_bulk_contacts(conn: asyncpg.Connection, account_id: int, count: int) -> None:
    """Contacts contact0…contact{count-1}@example.com (the sandbox bulk loader's guests)."""
    ids = await conn.fetch(
        """
        INSERT INTO contacts (account_id, first_name, last_name, email)
        SELECT $1, 'Contact', n::text, 'contact' || n || '@example.com'
        FROM generate_series(0, $2 - 1) AS n RETURNING id, email
        """,
        account_id,
        count,
    )
    await conn.copy_records_to_table(
        "contact_emails",
        records=[(account_id, r["id"], r["email"], True, 1) for r in ids],
        columns=["account_id", "contact_id", "email", "is_primary", "position"],
    )


def summarize_raw_profile(path: Path, top: int = 25) -> str:
    """py-spy `raw` (collapsed stacks) → self and inclusive time of the top functions."""
    import collections

    self_t: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return f"(no profile at {path})"
    for line in lines:
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        total += count
        frames = stack.split(";")
        names = []
        for frame in frames:
            # "func (path/file.py:line)" → "func (file.py)"
            name, _, where = frame.partition(" (")
            where = where.rstrip(")").rsplit(":", 1)[0]
            short = "/".join(where.split("/")[-2:])
            names.append(f"{name} ({short})")
        self_t[names[-1]] += count
        for name in set(names):
            incl[name] += count
    if not total:
        return "(empty profile)"
    out = [f"{total} samples; top self time:"]
    for name, n in self_t.most_common(top):
        out.append(f"  {100 * n / total:5.1f}%  {name}")
    out.append("top inclusive time:")
    for name, n in incl.most_common(top + 15):
        out.append(f"  {100 * n / total:5.1f}%  {name}")
    return "\n".join(out)
