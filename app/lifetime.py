"""How a `chronik` process lives and ends in its data directory.

While it runs, the process keeps `data_dir/running/<pid>.pid` open, so another Chronik that
finds one of its ports taken can say which process and data directory hold it (app/ports.py).
SIGTERM (kill, systemd, `docker stop`) unwinds like Ctrl-C does, SIGHUP (its terminal closed)
is taken as SIGTERM, and every way out — signal, normal return, failed start — releases the embedded
PostgreSQL (db/embedded.py), which stops once no process of its data directory holds it.
(The server runs in a session of its own, so no signal meant for us reaches it.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

from db.embedded import stop_embedded_postgres

MARKER_DIR = "running"


class Terminated(BaseException):
    """SIGTERM arrived: unwind (a BaseException, so no `except Exception` swallows it)."""


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated


def _hang_up(signum: int, frame: FrameType | None) -> None:
    # As SIGTERM, to whoever handles that now: uvicorn and the worker shut down gracefully on
    # it (and uvloop would swallow an exception raised here in the middle of its loop).
    signal.raise_signal(signal.SIGTERM)


@contextlib.contextmanager
def process_lifetime(data_dir: Path | None) -> Iterator[None]:
    """Run the body of a command; on any way out release the embedded PostgreSQL.

    After SIGTERM the process ends by SIGTERM again (default action), once cleaned up, so its
    exit status still says so; Ctrl-C ends it with status 130, no traceback.
    """
    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate),
        signal.SIGHUP: signal.signal(signal.SIGHUP, _hang_up),
    }
    marker = _open_marker(data_dir) if data_dir is not None else None
    terminated = interrupted = False
    try:
        yield
    except Terminated:
        terminated = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop_embedded_postgres()
        if marker is not None:
            _close_marker(marker)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGTERM)
    if interrupted:
        raise SystemExit(130)


def _open_marker(data_dir: Path) -> tuple[Path, int] | None:
    try:
        folder = data_dir / MARKER_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{os.getpid()}.pid"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, f"{os.getpid()} {' '.join(sys.argv[1:3])}\n".encode())
        return path, fd
    except OSError:  # a read-only data directory still serves; the marker is a courtesy
        return None


def _close_marker(marker: tuple[Path, int]) -> None:
    path, fd = marker
    os.close(fd)
    with contextlib.suppress(OSError):
        path.unlink()
