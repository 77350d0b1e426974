"""Google's JSON error responses (``{"error": {"errors": [...], "code", "message"}}``)."""

from __future__ import annotations

import math

import orjson
from aiohttp import web

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class GoogleApiError(Exception):
    """Raised inside handlers; the API middleware turns it into Google's error response."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        status: str | None = None,
        headers: dict[str, str] | None = None,
        item_message: str | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.status = status
        self.headers = headers or {}
        self.item_message = item_message or message

    def response(self) -> web.Response:
        """The HTTP response Google would send for this error."""
        item: dict[str, str] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.item_message,
        }
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        detail: dict[str, object] = {"errors": [item], "code": self.code, "message": self.message}
        if self.status is not None:
            detail["status"] = self.status
        return web.Response(
            status=self.code,
            body=orjson.dumps({"error": detail}),
            content_type="application/json",
            charset="UTF-8",
            headers=self.headers,
        )


def unauthenticated() -> GoogleApiError:
    """401 for a missing, unknown, revoked or expired bearer token."""
    return GoogleApiError(
        401,
        "authError",
        _UNAUTHENTICATED_MESSAGE,
        location="Authorization",
        location_type="header",
        status="UNAUTHENTICATED",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        item_message="Invalid Credentials",
    )


def insufficient_scopes() -> GoogleApiError:
    """403 when the token's grant does not cover the call (e.g. the user unticked a scope)."""
    return GoogleApiError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        status="PERMISSION_DENIED",
        item_message="Insufficient Permission",
    )


def not_found() -> GoogleApiError:
    """404 ``notFound``."""
    return GoogleApiError(404, "notFound", "Not Found")


def deleted() -> GoogleApiError:
    """410 ``deleted`` (deleting an already deleted event)."""
    return GoogleApiError(410, "deleted", "Resource has been deleted")


def full_sync_required() -> GoogleApiError:
    """410 ``fullSyncRequired`` (invalid or expired sync token)."""
    return GoogleApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
    )


def duplicate() -> GoogleApiError:
    """409 ``duplicate`` (an event with that id exists)."""
    return GoogleApiError(409, "duplicate", "The requested identifier already exists.")


def condition_not_met() -> GoogleApiError:
    """412 ``conditionNotMet`` (If-Match etag is stale)."""
    return GoogleApiError(
        412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
    )


def invalid(message: str, location: str | None = None) -> GoogleApiError:
    """400 ``invalid`` (bad parameter or resource value)."""
    return GoogleApiError(400, "invalid", message, location=location)


def required(field: str) -> GoogleApiError:
    """400 ``required`` for a missing field."""
    return GoogleApiError(400, "required", "Required", location=field)


def time_range_empty(location: str = "timeMax") -> GoogleApiError:
    """400 ``timeRangeEmpty`` (end before start)."""
    return GoogleApiError(
        400,
        "timeRangeEmpty",
        "The specified time range is empty.",
        domain="calendar",
        location=location,
    )


def render_error(status: int, retry_after: float | None) -> web.Response:
    """Fault-injector renderer: Google's body for a rate limit (403/429) or a 5xx."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    if status in (403, 429):
        # Google reports per-user quota as 403 and per-project bursts as 429; both usageLimits.
        message = "Rate Limit Exceeded"
        return GoogleApiError(
            status,
            "rateLimitExceeded",
            message,
            domain="usageLimits",
            status=_STATUS_NAMES[status] if status == 429 else None,
            headers=headers,
        ).response()
    if status >= 500:
        return GoogleApiError(status, "backendError", "Backend Error", headers=headers).response()
    return GoogleApiError(
        status,
        "invalid",
        "Injected error",
        status=_STATUS_NAMES.get(status),
        headers=headers,
    ).response()
