"""The embedded PostgreSQL (pgserver) Chronik runs when no `CHRONIK_DATABASE_URL` is set.

One server per data directory, shared by every Chronik process using that directory (a
`chronik serve`, its workers, a `chronik user create` beside them). Who uses it is kept in
`data_dir/embedded-postgres.holders` (pid and start time of each process), changed only under
an exclusive lock on `data_dir/embedded-postgres.lock`:

- a process joining adds itself, after dropping holders that no longer run (a process killed
  with SIGKILL never cleans up: the next one to start takes the server over and owns it);
- a process leaving (`stop_embedded_postgres`, also run at interpreter exit) removes itself,
  and the last one stops the server.

pgserver has a list of its own, but it keeps the pids of dead processes forever, so a server
whose first user was killed was never stopped again; it is used here to initialise and start
the server only.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

HOLDERS_FILE = "embedded-postgres.holders"
LOCK_FILE = "embedded-postgres.lock"


@dataclass(frozen=True, slots=True)
class _Holder:
    pid: int
    started: float  # the process's start time: a reused pid is not the same holder

    def is_alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return (
                abs(process.create_time() - self.started) < 0.01
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


def _me() -> _Holder:
    return _Holder(os.getpid(), psutil.Process().create_time())


# The data directories this process holds, and the pgserver handle of each.
_held: dict[Path, Any] = {}
_held_guard = threading.Lock()
_atexit_registered = False


def pgdata_dir(data_dir: Path) -> Path:
    """Where the embedded server keeps its files inside Chronik's data directory."""
    return (data_dir / "pgdata").resolve()


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the PostgreSQL server kept in `data_dir/pgdata` and return its DSN.

    This process becomes one of the server's holders until `stop_embedded_postgres` (or the
    interpreter's exit); the server stops when its last holder leaves. It listens on a Unix
    socket only: nothing is exposed on the network.
    """
    global _atexit_registered
    data_dir = data_dir.resolve()
    pgdata = pgdata_dir(data_dir)
    pgdata.mkdir(parents=True, exist_ok=True)
    with _held_guard, _locked(data_dir):
        holders = [h for h in _read_holders(data_dir) if h.is_alive()]
        me = _me()
        if not holders and _server_running(pgdata):
            log.info("taking over the embedded PostgreSQL left running in %s", pgdata)
        server = _pgserver().get_server(pgdata, cleanup_mode=None)
        server.ensure_postgres_running()  # a cached handle may be of a server stopped since
        if me not in holders:
            holders.append(me)
        _write_holders(data_dir, holders)
        _held[data_dir] = server
        if not _atexit_registered:
            atexit.register(stop_embedded_postgres)
            _atexit_registered = True
    log.debug("embedded PostgreSQL running in %s", pgdata)
    dsn: str = server.get_uri()
    return dsn


def stop_embedded_postgres() -> None:
    """Leave every embedded server this process holds; stop those it was the last holder of.

    Safe to call more than once. SIGTERM, SIGINT and SIGHUP are ignored meanwhile, so a second
    signal cannot leave the holders file half-written or the server half-stopped.
    """
    with _held_guard, _signals_ignored():
        for data_dir, server in list(_held.items()):
            with _locked(data_dir):
                me = _me()
                others = [h for h in _read_holders(data_dir) if h != me and h.is_alive()]
                if not others:
                    _stop_server(pgdata_dir(data_dir), server.system_user)
                _write_holders(data_dir, others)
            del _held[data_dir]


def _stop_server(pgdata: Path, system_user: str | None) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH

    if not _server_running(pgdata):
        return
    # `fast`: open sessions are ended at once (every one of ours is closing anyway).
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        user=system_user,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 and _server_running(pgdata):
        log.warning("could not stop the embedded PostgreSQL in %s: %s", pgdata, result.stderr)
    else:
        log.debug("stopped the embedded PostgreSQL in %s (no Chronik process uses it now)", pgdata)


def _server_running(pgdata: Path) -> bool:
    """Whether the postmaster named in `pgdata/postmaster.pid` runs (a stale file is not)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(pgdata) in " ".join(
            process.cmdline()
        )
    except (OSError, ValueError, psutil.Error):
        return False


def _read_holders(data_dir: Path) -> list[_Holder]:
    try:
        raw = json.loads((data_dir / HOLDERS_FILE).read_text())
        return [_Holder(int(h["pid"]), float(h["started"])) for h in raw]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _write_holders(data_dir: Path, holders: list[_Holder]) -> None:
    path = data_dir / HOLDERS_FILE
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps([{"pid": h.pid, "started": h.started} for h in holders]))
    staged.replace(path)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """An exclusive lock on the data directory's embedded server, across processes."""
    with (data_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ending = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in ending}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _pgserver() -> Any:
    """pgserver, imported on first use: a deployment with a real database never loads it."""
    # pgserver picks the directory of its lock file when it is imported, and platformdirs
    # warns that XDG_RUNTIME_DIR is unset (it is, under systemd services, containers, cron)
    # before falling back to /tmp/runtime-<uid>: a fine place for that one lock file, and our
    # sockets live in pgdata anyway. The warning told a user of Chronik nothing actionable.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        import pgserver

    # pgserver narrates every pg_ctl call at INFO; only its problems matter to us.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    return pgserver
