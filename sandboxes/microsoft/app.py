"""The Microsoft sandbox application: Graph v1.0 + identity platform v2.0 + control API.

``create_microsoft_sandbox()`` builds the aiohttp app; its state is ``app[MICROSOFT_SANDBOX]``.
Middlewares, outermost first: request ids (``request-id``/``client-request-id`` headers, shared
with error bodies), the shared fault injector (Graph error bodies, never on ``/_sandbox/``), Graph
error rendering, bearer-token authentication of ``/v1.0/``, the per-mailbox concurrency limit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from .control_routes import add_routes as add_control_routes
from .control_routes import control_errors
from .errors import CURRENT_REQUEST_IDS, GraphError, fault_renderer, graph_error_response
from .graph_routes import GRAPH_USER
from .graph_routes import add_routes as add_graph_routes
from .oauth_routes import add_routes as add_oauth_routes
from .sandbox import MICROSOFT_SANDBOX, MicrosoftSandbox

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def _request_ids(seed: int) -> Callable[[web.Request], tuple[str, str]]:
    # A separate RNG so request ids never shift the ids of users and events.
    rng = random.Random(seed + 2)

    def assign(request: web.Request) -> tuple[str, str]:
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return request_id, request.headers.get("client-request-id", request_id)

    return assign


def _middlewares(sandbox: MicrosoftSandbox) -> list[Callable[..., Awaitable[web.StreamResponse]]]:
    assign_ids = _request_ids(sandbox.seed)

    @web.middleware
    async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
        ids = assign_ids(request)
        CURRENT_REQUEST_IDS.set(ids)
        headers = {"request-id": ids[0], "client-request-id": ids[1]}
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    @web.middleware
    async def graph_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            return await handler(request)
        try:
            return await handler(request)
        except GraphError as exc:
            return graph_error_response(
                exc.status, exc.code, exc.message, sandbox.now(), exc.headers
            )
        except web.HTTPNotFound:
            if not request.path.startswith("/v1.0/"):
                raise
            segment = request.path.rstrip("/").rsplit("/", 1)[-1]
            return graph_error_response(
                400, "BadRequest", f"Resource not found for the segment '{segment}'.", sandbox.now()
            )
        except web.HTTPMethodNotAllowed:
            if not request.path.startswith("/v1.0/"):
                raise
            return graph_error_response(
                405,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
                sandbox.now(),
            )
        except web.HTTPException:
            raise
        except Exception:
            # A sandbox bug still answers like Graph does, so clients exercise their 5xx path.
            log.exception("Microsoft sandbox failed on %s %s", request.method, request.path)
            return graph_error_response(
                500, "generalException", "An unspecified error has occurred.", sandbox.now()
            )

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1.0/"):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not token or scheme.lower() != "bearer":
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty.",
                {"WWW-Authenticate": WWW_AUTHENTICATE},
            )
        email = sandbox.authority.email_for_access_token(token.strip())
        user = sandbox.store.users.get(email.lower()) if email else None
        if user is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired or revoked.",
                {"WWW-Authenticate": WWW_AUTHENTICATE + ', error="invalid_token"'},
            )
        request[GRAPH_USER] = user
        return await handler(request)

    in_flight: collections.Counter[str] = collections.Counter()
    recent: collections.defaultdict[str, collections.deque[float]] = collections.defaultdict(
        collections.deque
    )

    def over_rate(email: str) -> float | None:
        """Seconds until the mailbox may send again, when it used up its 10 minutes."""
        now, window = sandbox.clock(), recent[email]
        while window and window[0] <= now - 600:
            window.popleft()
        if len(window) >= int(sandbox.quirks.mailbox_requests_per_10_minutes):
            return window[0] + 600 - now
        window.append(now)
        return None

    @web.middleware
    async def mailbox_concurrency(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Outlook serves at most 4 concurrent requests of one app per mailbox, and 10,000 in
        10 minutes; above either, 429 ApplicationThrottled.
        https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits"""
        user = request.get(GRAPH_USER)
        if user is None:
            return await handler(request)
        quirks = sandbox.quirks
        wait = over_rate(user.email)
        if wait is not None:
            sandbox.faults.injected["mailbox_rate"] += 1
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxRequests limit.",
                {"Retry-After": str(max(1, int(-(-wait // 1))))},
            )
        if in_flight[user.email] >= int(quirks.mailbox_concurrency):
            sandbox.faults.injected["mailbox_concurrency"] += 1
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": "1"},
            )
        in_flight[user.email] += 1
        try:
            if quirks.mailbox_latency_ms:
                await asyncio.sleep(float(quirks.mailbox_latency_ms) / 1000)
            return await handler(request)
        finally:
            in_flight[user.email] -= 1

    return [
        request_ids,
        control_errors,
        sandbox.faults.middleware(fault_renderer(sandbox.now)),
        graph_errors,
        bearer_auth,
        mailbox_concurrency,
    ]


def create_microsoft_sandbox(
    *,
    seed: int = 0,
    access_token_ttl: int = 3600,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """A fresh Microsoft sandbox app (state at ``app[MICROSOFT_SANDBOX]``). The notification
    delivery task runs while the app runs (started/stopped with it)."""
    sandbox = MicrosoftSandbox(seed=seed, access_token_ttl=access_token_ttl, clock=clock)
    app = web.Application(middlewares=_middlewares(sandbox))
    app[MICROSOFT_SANDBOX] = sandbox
    add_control_routes(app)
    add_oauth_routes(app)
    add_graph_routes(app)

    async def start_delivery(_app: web.Application) -> None:
        await sandbox.subscriptions.start()

    async def stop_delivery(_app: web.Application) -> None:
        await sandbox.subscriptions.stop()

    app.on_startup.append(start_delivery)
    app.on_cleanup.append(stop_delivery)
    return app
