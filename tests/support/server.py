"""A real Chronik server (uvicorn on an ephemeral port) and a GraphQL client for it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from app.asgi import create_app
from app.settings import Settings


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def error_codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> Any:
        """The data, after asserting there were no errors."""
        assert not self.errors, self.errors
        return self.data


@dataclass
class RunningChronik:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    app: Starlette
    # Every SQL statement the server executed, in order (tests count them per request).
    statements: list[str] = field(default_factory=list)

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> GraphQLResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        return GraphQLResponse(response.status_code, response.json())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_chronik(settings: Settings) -> AsyncIterator[RunningChronik]:
    statements: list[str] = []

    def record(logged: Any) -> None:
        # asyncpg introspects types once per new pooled connection; that is not the
        # request's SQL and would make counts depend on which connection served it.
        if "typeinfo_tree" not in logged.query and "'jit'" not in logged.query:
            statements.append(logged.query)

    app = create_app(settings, on_query=record)
    # The port comes from the public URL: OAuth redirect URIs must name the real address.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.public_url.port or 0,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error here
        await asyncio.sleep(0.01)
    url = str(settings.public_url).rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            yield RunningChronik(url, settings, http, app, statements)
    finally:
        server.should_exit = True
        await task
