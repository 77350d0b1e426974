"""Logging: configured once per process, JSON lines or readable text, with context and no secrets.

Context fields (request_id, account_id, connection_id, provider, sync_phase) live in context
variables: `RequestContext` sets the request id for each HTTP request or websocket, the sync
worker binds the connection's fields around a run (`log_context`), and every record logged
meanwhile carries them. `RedactSecrets` masks bearer tokens, Chronik API tokens and OAuth
codes/tokens in URLs or JSON before any handler writes a record.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTEXT_FIELDS = ("request_id", "account_id", "connection_id", "provider", "sync_phase")
_context: dict[str, ContextVar[Any]] = {
    name: ContextVar(name, default=None) for name in CONTEXT_FIELDS
}
# Looked up when a record is made, for fields known only later (the caller's account).
_late_account: ContextVar[Callable[[], int | None] | None] = ContextVar(
    "late_account", default=None
)

REDACTED = "[REDACTED]"
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"\bchronik_[A-Za-z0-9_-]+"), "chronik_" + REDACTED),
    # OAuth secrets in query strings and form bodies: ?code=…&refresh_token=…
    (
        re.compile(
            r"(?i)\b(code|state|access_token|refresh_token|id_token|client_secret|token"
            r"|code_verifier|assertion)=[^&\s\"'#]+"
        ),
        r"\1=" + REDACTED,
    ),
    # …and in JSON: {"refresh_token": "…"}
    (
        re.compile(
            r"(?i)([\"'](?:access_token|refresh_token|id_token|client_secret|code|token)[\"']"
            r"\s*:\s*[\"'])[^\"']+"
        ),
        r"\1" + REDACTED,
    ),
]


def redact(text: str) -> str:
    """`text` with everything that looks like a credential replaced by [REDACTED]."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def set_log_context(**fields: Any) -> None:
    """Records logged from now on in this task (and in tasks it starts) carry `fields`: for a
    task of its own, such as one websocket connection's, where nothing needs restoring."""
    for name, value in fields.items():
        _context[name].set(value)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Records logged inside the block (and in tasks it starts) carry `fields`."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind_account_lookup(lookup: Callable[[], int | None]) -> None:
    """Name the account of the current request once it is known (`lookup` must not block)."""
    _late_account.set(lookup)


def current_context() -> dict[str, Any]:
    fields = {name: var.get() for name, var in _context.items()}
    lookup = _late_account.get()
    if fields["account_id"] is None and lookup is not None:
        fields["account_id"] = lookup()
    return {name: value for name, value in fields.items() if value is not None}


class RedactSecrets(logging.Filter):
    """Masks credentials in the message (arguments merged in) and stamps the context fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for name, value in current_context().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def unicode_text(text: str) -> str:
    """`text` with each lone surrogate (which has no UTF-8 form) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            line = orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:
            # A message quoting text with a lone surrogate (a name a caller sent) has no
            # UTF-8 form: written with U+FFFD in its place instead of losing the line.
            valid = {k: unicode_text(v) if isinstance(v, str) else v for k, v in entry.items()}
            line = orjson.dumps(valid, default=lambda v: unicode_text(str(v))).decode()
        return redact(line)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [field=value …]`, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        ]
        if fields:
            first, newline, rest = text.partition("\n")
            text = f"{first} [{' '.join(fields)}]{newline}{rest}"
        return redact(text)


def wants_json(log_format: str | None, *, production: bool) -> bool:
    """JSON lines when asked (`CHRONIK_LOG_FORMAT=json`) or, unless told otherwise, in
    production; readable text elsewhere."""
    if log_format is not None:
        return log_format == "json"
    return production


_installed: logging.Handler | None = None


def configure_logging(
    *, json: bool, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every record (Chronik's, uvicorn's, libraries') through one root handler; calling
    it again replaces the handler it installed before. Returns the handler."""
    global _installed
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own loggers would otherwise write around this handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    _installed = handler
    return handler


access_log = logging.getLogger("chronik.access")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestContext:
    """ASGI middleware: a request id for every HTTP request and websocket (the caller's
    `X-Request-ID` when it is sane, else a new one), echoed in the response, and one access
    log line per HTTP request."""

    _SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if self._SANE_ID.match(given) else uuid.uuid4().hex
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        started = time.perf_counter()
        with log_context(request_id=request_id):
            _late_account.set(None)
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if scope["type"] == "http":
                    query = scope.get("query_string", b"").decode("latin-1")
                    path = scope.get("path", "")
                    # Probes and scrapes arrive every few seconds; keep them out of INFO.
                    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
                    access_log.log(
                        level,
                        "%s %s%s %s %.1fms",
                        scope.get("method", ""),
                        path,
                        f"?{query}" if query else "",
                        status or "-",
                        (time.perf_counter() - started) * 1000,
                    )
