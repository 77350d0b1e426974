"""Whether a port Chronik is about to listen on is free, and if not, who holds it.

A busy port is reported in one line that names the setting to change and, where the system
tells (the listening process is ours to inspect), the process holding it: another Chronik
(found by its `data_dir/running/<pid>.pid`, see app/lifetime.py) or another program.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import psutil

from app.lifetime import MARKER_DIR


def port_in_use(host: str, port: int, setting: str) -> str | None:
    """None when `host:port` can be listened on now; else a message naming `setting`.

    The check binds the way uvicorn and aiohttp do (SO_REUSEADDR), so a port left in
    TIME_WAIT by a process that just stopped counts as free, as it will be for them.
    """
    try:
        with socket.create_server((host, port)):
            return None
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return None  # not ours to judge (an unknown host...): the server says it itself
    return f"port {port} ({setting}) is in use by {holder_of(port)}"


def holder_of(port: int) -> str:
    """Who listens on `port`: "another Chronik (pid N, data dir X)", or another program
    (named with its pid when the system lets us see it)."""
    pid = _listening_pid(port)
    if pid is None:
        return "another program"
    try:
        process = psutil.Process(pid)
        for opened in process.open_files():
            path = Path(opened.path)
            if path.parent.name == MARKER_DIR and path.name == f"{pid}.pid":
                return f"another Chronik (pid {pid}, data dir {path.parent.parent})"
        return f"another program ({process.name()}, pid {pid})"
    except psutil.Error:
        return f"another program (pid {pid})"


def _listening_pid(port: int) -> int | None:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is not None:
                    return conn.pid
    except psutil.Error:  # some systems let only root see other processes' sockets
        pass
    return None
