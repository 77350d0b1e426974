"""The Starlette application: routes, and the resources it opens and closes with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from app import oauth_routes, pages, webhook_routes
from app.cors import GraphQLCors
from app.graphql import graphql_app
from app.limits import RequestLimits, graphql_limits
from app.live_socket import LiveSocket, wants_lean_socket
from app.security_headers import SecurityHeaders
from app.services import Services, running_services
from app.settings import Settings, load_settings
from app.ws_output import BoundedSend
from db.listen import LiveFeed
from db.migrate import pending_migrations
from db.pool import QueryObserver
from telemetry.logs import RequestContext
from telemetry.metrics import metrics_endpoint

log = logging.getLogger("chronik")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and every migration is applied."""
    services: Services = request.app.state.services
    try:
        async with services.pool.acquire(timeout=2) as conn:
            pending = await pending_migrations(conn)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, 503)
    if pending:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "migrations pending",
                "pending": [f"{m.version:04d}_{m.name}" for m in pending],
            },
            503,
        )
    return JSONResponse({"status": "ready"})


class Chronik(Starlette):
    """The app; graphql-transport-ws websockets on `/graphql` go straight to `live_socket`,
    before the middleware (which has nothing to do for them but would stay on the stack of
    every long-lived connection). Every `/graphql` websocket, of either protocol, sends
    through a `BoundedSend`: at most `ws_max_waiting_bytes` of output wait for its client,
    for at most `ws_send_timeout` seconds."""

    def __init__(
        self,
        *args: Any,
        live_socket: LiveSocket,
        ws_max_waiting_bytes: int,
        ws_send_timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.live_socket = live_socket
        self.ws_max_waiting_bytes = ws_max_waiting_bytes
        self.ws_send_timeout = ws_send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            bounded = BoundedSend(send, self.ws_max_waiting_bytes, self.ws_send_timeout)
            try:
                if wants_lean_socket(scope):
                    scope["app"] = self
                    await self.live_socket(scope, receive, bounded)
                else:
                    await super().__call__(scope, receive, bounded)
            finally:
                await bounded.closed()
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings, *, migrate: bool = True, on_query: QueryObserver | None = None
) -> Starlette:
    """The Chronik ASGI app; `migrate` applies pending migrations on start."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(settings, migrate=migrate, on_query=on_query) as services:
            app.state.services = services
            services.live = LiveFeed(services.dsn, queue_size=settings.subscription_queue_size)
            await services.live.start()
            worker = services.new_worker() if settings.run_worker else None
            task = asyncio.create_task(worker.run()) if worker else None
            try:
                yield
            finally:
                if worker and task:
                    worker.stop()  # in-flight syncs finish their page and release leases
                    await task
                await services.live.stop()

    limits = graphql_limits(settings)
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    origins = frozenset(settings.cors_origins)
    graphql = graphql_app(
        production=settings.is_production,
        max_tokens=settings.graphql_max_tokens,
        extensions=limits,
        ws_max_operations=settings.ws_max_operations,
        ws_init_timeout=settings.ws_init_timeout_seconds,
        allowed_origins=origins,
    )
    # Other origins' pages may call /graphql only when some are configured.
    cors = [Middleware(GraphQLCors, origins=origins)] if origins else []
    return Chronik(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(metrics_token, production=settings.is_production)),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *oauth_routes.routes,
            *webhook_routes.routes,
            *pages.routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(SecurityHeaders),
            *cors,
            Middleware(RequestContext),
            Middleware(RequestLimits, max_body_bytes=settings.max_body_bytes),
        ],
        live_socket=LiveSocket(
            graphql.schema,  # type: ignore[arg-type]
            limits,
            init_timeout=settings.ws_init_timeout_seconds,
            max_operations=settings.ws_max_operations,
            allowed_origins=origins,
        ),
        ws_max_waiting_bytes=settings.ws_max_waiting_bytes,
        ws_send_timeout=settings.ws_send_timeout_seconds,
    )


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory app.asgi:create_app_from_env`."""
    return create_app(load_settings())
