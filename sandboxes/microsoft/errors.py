"""Graph's and the identity platform's error bodies, and the exception handlers raise for them.

Graph: ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}``.
Identity platform (token endpoint): ``{"error", "error_description": "AADSTSnnnnn: ...",
"error_codes": [n], "timestamp", "trace_id", "correlation_id"}``.
The request id of the request being served lives in a context variable set by the request-id
middleware, so error bodies built anywhere (even by the fault injector) carry the same id as the
``request-id`` response header.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import datetime

import orjson
from aiohttp import web

from sync.providers.microsoft.wire import IdentityError, ODataError

from .timefmt import inner_error_date

# (request-id, client-request-id) of the request being handled.
CURRENT_REQUEST_IDS: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "graph_request_ids", default=("", "")
)


class GraphError(Exception):
    """Raised by Graph handlers; rendered as Graph's error body with ``status``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found() -> GraphError:
    """Outlook's 404 for an unknown or deleted item."""
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    """A 400 with an Outlook error code."""
    return GraphError(400, code, message)


def graph_error_body(code: str, message: str, now: datetime) -> ODataError:
    """The JSON body of a Graph error for the current request."""
    request_id, client_request_id = CURRENT_REQUEST_IDS.get()
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": inner_error_date(now),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def graph_error_response(
    status: int,
    code: str,
    message: str,
    now: datetime,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A Graph error response (JSON body, any extra headers such as Retry-After)."""
    return web.Response(
        status=status,
        body=orjson.dumps(graph_error_body(code, message, now)),
        content_type="application/json",
        headers=headers,
    )


# Graph's codes for the statuses the fault injector produces.
_FAULT_CODES = {
    429: ("TooManyRequests", "Too many requests. Please retry after the time in Retry-After."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("UnknownError", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
    504: ("UnknownError", "The gateway timed out waiting for the backend."),
}


def fault_renderer(now: Callable[[], datetime]) -> Callable[[int, float | None], web.Response]:
    """``render_error(status, retry_after)`` for the shared fault injector: Graph's bodies, plus
    ``Retry-After`` in whole seconds (rounded up) when given."""

    def render(status: int, retry_after: float | None) -> web.Response:
        code, message = _FAULT_CODES.get(status, ("UnknownError", "An error occurred."))
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(0, int(-(-retry_after // 1))))
        return graph_error_response(status, code, message, now(), headers)

    return render


def identity_error_body(
    error: str, aadsts: int, description: str, now: datetime, trace_id: str, correlation_id: str
) -> IdentityError:
    """The identity platform's error body; the description carries the AADSTS code and the
    trace/correlation ids and timestamp, as the real endpoint's does."""
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_description": (
            f"AADSTS{aadsts}: {description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {stamp}"
        ),
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }
