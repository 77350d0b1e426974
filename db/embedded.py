"""The embedded PostgreSQL (pgserver) Chronik runs when no `CHRONIK_DATABASE_URL` is set."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the PostgreSQL server kept in `data_dir/pgdata` and return its DSN.

    pgserver shares one server between every process that asks for the same directory and
    stops it when the last of them exits, so `chronik serve` and `chronik user create` can run
    side by side. The server listens on a Unix socket only: nothing is exposed on the network.
    """
    import pgserver  # imported lazily: a deployment with a real database never loads it

    # pgserver narrates every pg_ctl call at INFO; only its problems matter to us.
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    log.info("embedded PostgreSQL running in %s", pgdata)
    dsn: str = server.get_uri()
    return dsn
