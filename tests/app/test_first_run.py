"""The README's first run, as a new user does it: no database configured, nothing installed.

`chronik serve` starts its embedded PostgreSQL, `chronik user create` prints a token, GraphiQL
opens in a browser, and the token answers `{ me { email } }`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fresh_env() -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
    # Not under pytest's temp dir: as root, pgserver opens the path's folders to the user it
    # runs PostgreSQL as, and any pytest session started meanwhile closes that dir again.
    data_home = tempfile.TemporaryDirectory(prefix="chronik-first-run-", ignore_cleanup_errors=True)
    env["CHRONIK_DATA_DIR"] = str(Path(data_home.name) / "data")
    env["CHRONIK_PUBLIC_URL"] = f"http://127.0.0.1:{free_port()}"
    # The service starts its own sandboxes; keep them off ports a developer may be using.
    env["CHRONIK_SANDBOX_GOOGLE_PORT"] = str(free_port())
    env["CHRONIK_SANDBOX_MICROSOFT_PORT"] = str(free_port())
    with data_home:
        yield env


@pytest.fixture
def served(fresh_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=fresh_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = fresh_env["CHRONIK_PUBLIC_URL"]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "serve.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_with_embedded_database_graphiql_and_first_token(
    served: str, fresh_env: dict[str, str], tmp_path: Path
) -> None:
    page = httpx.get(f"{served}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()

    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "user",
            "create",
            "--account",
            "Acme",
            "--email",
            "ana@acme.test",
            "--domain",
            "acme.test",
        ],
        env=fresh_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    # It says which database it used (the server's), and nothing else is noise: no warnings.
    data_dir = fresh_env["CHRONIK_DATA_DIR"]
    assert f"data dir {data_dir}; embedded PostgreSQL in {data_dir}/pgdata\n" in created.stderr
    assert "Warning" not in created.stderr and "Warning" not in (tmp_path / "serve.log").read_text()
    token = created.stdout.strip()
    assert token.startswith("chronik_")
    assert token not in created.stderr  # shown once, on stdout only

    answer = httpx.post(
        f"{served}/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.json() == {"data": {"me": {"email": "ana@acme.test"}}}

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "user",
            "create",
            "--account",
            "Acme",
            "--email",
            "ANA@acme.test",
        ],
        env=fresh_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "chronik token create --email ana@acme.test" in again.stderr
