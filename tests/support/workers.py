"""`chronik worker` processes for tests: started, killed and read like in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from app.settings import Settings
from tests.support.secret_watch import subprocess_env


def chronik_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a `chronik` process the same settings as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
    assert settings.database_url and settings.secret_key
    env.update(
        {
            "CHRONIK_ENV": settings.env.value,
            "CHRONIK_DATABASE_URL": settings.database_url,
            "CHRONIK_SECRET_KEY": settings.secret_key.get_secret_value(),
            "CHRONIK_PUBLIC_URL": str(settings.public_url),
            "CHRONIK_DATA_DIR": str(settings.data_dir),
            "CHRONIK_GOOGLE_SANDBOX_URL": settings.provider("google").sandbox_url or "",
            "CHRONIK_MICROSOFT_SANDBOX_URL": settings.provider("microsoft").sandbox_url or "",
            "CHRONIK_SYNC_LEASE_SECONDS": str(settings.sync_lease_seconds),
            "CHRONIK_SYNC_POLL_SECONDS": str(settings.sync_poll_seconds),
            "CHRONIK_SYNC_RECONCILE_SECONDS": str(settings.sync_reconcile_seconds),
            "CHRONIK_SYNC_PUSH_QUIET_SECONDS": str(settings.sync_push_quiet_seconds),
            "CHRONIK_SYNC_PUSH_MAX_WAIT_SECONDS": str(settings.sync_push_max_wait_seconds),
            "CHRONIK_DB_POOL_MAX_SIZE": str(settings.db_pool_max_size),
        }
    )
    env.update(subprocess_env())  # its log lines are checked for secrets too
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, settings: Settings, log: Path, **extra_env: str) -> None:
        self.log = log
        self._handle = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=chronik_env(settings, **extra_env),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def owns(self, lease_owner: str | None) -> bool:
        """Whether a `lease_owner` value names this process (host:pid:random)."""
        return lease_owner is not None and lease_owner.split(":")[-2:-1] == [str(self.pid)]

    def freeze(self) -> None:
        """SIGSTOP: the process sends nothing more, so its open transactions stay open."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease release — like a crashed machine."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._handle.close()

    def terminate(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._handle.close()


async def add_bulk_contacts(db: asyncpg.Connection, account_id: int, count: int) -> None:
    """Contacts contact0…contact{count-1}@example.com (the sandbox bulk loader's guests)."""
    ids = await db.fetch(
        """
        INSERT INTO contacts (account_id, first_name, last_name, email)
        SELECT $1, 'Contact', n::text, 'contact' || n || '@example.com'
        FROM generate_series(0, $2 - 1) AS n RETURNING id, email
        """,
        account_id,
        count,
    )
    await db.copy_records_to_table(
        "contact_emails",
        records=[(account_id, r["id"], r["email"], True, 1) for r in ids],
        columns=["account_id", "contact_id", "email", "is_primary", "position"],
    )


async def timelines_of(db: asyncpg.Connection, account_id: int) -> list[tuple[str, str, str]]:
    """The account's timelines as comparable rows: (contact email, meeting title, start)."""
    rows = await db.fetch(
        """
        SELECT c.email, m.title, m.starts_at::text AS starts
        FROM timeline_entries e JOIN contacts c ON c.id = e.contact_id
        JOIN meetings m ON m.id = e.meeting_id
        WHERE e.account_id = $1 ORDER BY 1, 2, 3
        """,
        account_id,
    )
    return [(r["email"], r["title"], r["starts"]) for r in rows]
