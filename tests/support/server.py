"""A real Chronik server (uvicorn on an ephemeral port) and a GraphQL client for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

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


@asynccontextmanager
async def running_chronik(settings: Settings) -> AsyncIterator[RunningChronik]:
    statements: list[str] = []
    app = create_app(settings, on_query=lambda logged: statements.append(logged.query))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error here
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            yield RunningChronik(url, settings, http, statements)
    finally:
        server.should_exit = True
        await task
