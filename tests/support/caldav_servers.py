"""Real CalDAV servers for the CalDAV provider's tests: Radicale and Xandikos from PyPI, each a
subprocess on a free port with its own temporary storage and HTTP Basic authentication, and a
small fault proxy to put in front of either.

- Radicale: htpasswd users (plain), one principal per user at `/<user>/`.
- Xandikos: single-user; its own `--htpasswd` (SHA1 entries) requires `--autocert`, so it
  serves HTTPS with a self-signed certificate: clients in the tests do not verify it.

Tests get a fresh calendar collection each (MKCALENDAR in the user's home), so they share the
servers without seeing each other's events.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from tests.support.server import free_port

PASSWORD = "app-password-1"
# Radicale's users: the one the tests sync, and one whose home only discovery tests touch.
OWNER = "ana@acme.test"
DISCOVERY_USER = "disco@acme.test"
_START_TIMEOUT = 30.0


@dataclass
class CalDavServer:
    kind: str  # "radicale" or "xandikos"
    url: str  # scheme://host:port/
    username: str
    password: str
    home_url: str  # the user's calendar home, where tests make their calendars
    process: subprocess.Popen[bytes] = field(repr=False)

    def auth_header(self, password: str | None = None) -> dict[str, str]:
        login = f"{self.username}:{password or self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(login).decode()}


def http_session() -> aiohttp.ClientSession:
    """A client session for the test servers (Xandikos' certificate is self-signed)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False))


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]' installs it)")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"CalDAV server exited: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"CalDAV server did not listen within {_START_TIMEOUT}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def radicale_server() -> Iterator[CalDavServer]:
    _require("radicale")
    root = Path(tempfile.mkdtemp(prefix="chronik-radicale-"))
    users = root / "users"
    users.write_text(f"{OWNER}:{PASSWORD}\n{DISCOVERY_USER}:{PASSWORD}\n")
    port = free_port()
    log = root / "log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--server-hosts",
                f"127.0.0.1:{port}",
                "--storage-filesystem-folder",
                str(root / "collections"),
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(users),
                "--auth-htpasswd-encryption",
                "plain",
                "--auth-delay",
                "0",
                "--logging-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        url = f"http://127.0.0.1:{port}/"
        yield CalDavServer("radicale", url, OWNER, PASSWORD, f"{url}{quote(OWNER)}/", process)
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def xandikos_server() -> Iterator[CalDavServer]:
    _require("xandikos")
    root = Path(tempfile.mkdtemp(prefix="chronik-xandikos-"))
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"{OWNER}:{{SHA}}{digest}\n")
    port = free_port()
    log = root / "log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xandikos",
                "serve",
                "-d",
                str(root / "data"),
                "--defaults",
                "--autocert",
                "--state-dir",
                str(root / "state"),
                "--htpasswd",
                str(htpasswd),
                "--no-detect-systemd",
                "-l",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        url = f"https://127.0.0.1:{port}/"
        yield CalDavServer("xandikos", url, OWNER, PASSWORD, f"{url}user/calendars/", process)
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_server(request: pytest.FixtureRequest) -> CalDavServer:
    """Each test using it runs against both servers."""
    server: CalDavServer = request.getfixturevalue(f"{request.param}_server")
    return server


async def make_calendar(
    http: aiohttp.ClientSession, server: CalDavServer, display_name: str | None = None
) -> str:
    """A new, empty calendar collection in the user's home; its URL."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    url = f"{server.home_url}{name}/"
    display = display_name or name
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        f"<D:displayname>{display}</D:displayname>"
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
        "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
    ).encode()
    async with http.request(
        "MKCALENDAR",
        url,
        data=body,
        headers={**server.auth_header(), "Content-Type": "application/xml"},
    ) as response:
        assert response.status == 201, (response.status, await response.text())
    return url


async def put_ics(
    http: aiohttp.ClientSession, server: CalDavServer, calendar_url: str, name: str, ics: str
) -> str:
    """Write a resource as a person's calendar app would; its new ETag (or "")."""
    async with http.put(
        calendar_url + name,
        data=ics.replace("\n", "\r\n").encode(),
        headers={**server.auth_header(), "Content-Type": "text/calendar; charset=utf-8"},
    ) as response:
        assert response.status in (201, 204), (response.status, await response.text())
        return response.headers.get("ETag", "")


async def delete_resource(
    http: aiohttp.ClientSession, server: CalDavServer, calendar_url: str, name: str
) -> None:
    async with http.delete(calendar_url + name, headers=server.auth_header()) as response:
        assert response.status in (200, 204), response.status


async def get_ics(
    http: aiohttp.ClientSession, server: CalDavServer, calendar_url: str, name: str
) -> tuple[int, str]:
    async with http.get(calendar_url + name, headers=server.auth_header()) as response:
        return response.status, await response.text()


# -- the fault proxy ---------------------------------------------------------------------------

Matcher = Callable[[web.Request, bytes], bool]


@dataclass
class Fault:
    """What the proxy does to the next `times` matching requests: answer `status` without
    forwarding, or (`stall`) wait that long before forwarding (longer than the client's
    timeout: the client gives up on it)."""

    times: int
    status: int | None = None
    body: bytes = b"injected fault"
    stall: float | None = None
    when: Matcher | None = None
    # Forward the request and throw the answer away (the server did the work; the client
    # never learns it).
    lose_answer: bool = False


class FaultProxy:
    """An HTTP proxy in front of a real CalDAV server, injecting faults on demand. `seen`
    records (method, path, answer status) of every request reaching it."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.refusals: list[tuple[Matcher, int]] = []
        self.rewrites: list[tuple[Matcher, Callable[[bytes], bytes]]] = []
        self.seen: list[tuple[str, str, int]] = []
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        when: Matcher | None = None,
        body: bytes = b"injected fault",
    ) -> None:
        self.faults.append(Fault(times, status=status, when=when, body=body))

    def stall(self, seconds: float, *, times: int = 1, when: Matcher | None = None) -> None:
        self.faults.append(Fault(times, stall=seconds, when=when))

    def lose_answer(self, *, times: int = 1, when: Matcher | None = None) -> None:
        self.faults.append(Fault(times, when=when, lose_answer=True))

    def refuse_always(self, when: Matcher, status: int) -> None:
        """Answer every matching request `status` (a server without a feature)."""
        self.refusals.append((when, status))

    def rewrite_answer(self, when: Matcher, change: Callable[[bytes], bytes]) -> None:
        """Pass every matching request's answer body through `change` (once per request)."""
        self.rewrites.append((when, change))

    def rewrite_url(self, url: str) -> str:
        """The proxy's URL for a URL of the upstream server."""
        return self.url + url[len(self._upstream) + 1 :]

    async def start(self) -> str:
        self._http = http_session()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    def _take(self, request: web.Request, body: bytes) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and (fault.when is None or fault.when(request, body)):
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        for when, status in self.refusals:
            if when(request, body):
                self.seen.append((request.method, request.path, status))
                return web.Response(status=status)
        fault = self._take(request, body)
        if fault is not None and fault.status is not None:
            self.seen.append((request.method, request.path, fault.status))
            return web.Response(status=fault.status, body=fault.body)
        if fault is not None and fault.stall is not None:
            await asyncio.sleep(fault.stall)
        assert self._http is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "transfer-encoding", "connection")
        }
        async with self._http.request(
            request.method,
            f"{self._upstream}{request.path_qs}",
            data=body or None,
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            answer_headers = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower()
                not in ("content-length", "transfer-encoding", "connection", "content-encoding")
            }
            self.seen.append((request.method, request.path, upstream.status))
            if fault is not None and fault.lose_answer:
                return web.Response(status=503, text="answer lost")
            for when, change in self.rewrites:
                if when(request, body):
                    payload = change(payload)
            return web.Response(status=upstream.status, body=payload, headers=answer_headers)


def is_sync_report(request: web.Request, body: bytes) -> bool:
    return request.method == "REPORT" and b"sync-collection" in body


def is_method(method: str) -> Matcher:
    return lambda request, body: request.method == method


async def with_proxy(server: CalDavServer, use: Callable[[FaultProxy], Awaitable[None]]) -> None:
    proxy = FaultProxy(server.url)
    await proxy.start()
    try:
        await use(proxy)
    finally:
        await proxy.close()
