"""Prometheus metrics: what they are, the helpers that record them, and the `/metrics` route.

Counters and histograms are process-wide (one registry per process). Values that belong to a
running app — live subscribers, LISTEN reconnects — are read from its `LiveFeed` at scrape
time; the age of the leases this process holds comes from `lease_held`, which the sync worker
wraps around each run.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


class LiveFeed(Protocol):
    """What the metrics read of a process's live feed (db.listen.LiveFeed)."""

    @property
    def subscriber_count(self) -> int: ...

    @property
    def reconnects(self) -> int: ...


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = CollectorRegistry()

GRAPHQL_REQUESTS = Counter(
    "chronik_graphql_requests",
    "GraphQL operations executed, by operation name, type and outcome (ok or error).",
    ["operation", "type", "outcome"],
    registry=REGISTRY,
)
GRAPHQL_LATENCY = Histogram(
    "chronik_graphql_request_duration_seconds",
    "Time to execute a GraphQL query or mutation, by operation name.",
    ["operation", "type"],
    registry=REGISTRY,
)
SYNC_RUNS = Counter(
    "chronik_sync_runs",
    "Sync runs finished, by provider and outcome "
    "(ok, failed, needs_reauth, lease_lost, cancelled, internal_error).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
SYNC_EVENTS = Counter(
    "chronik_sync_events",
    "Provider events read by successful sync runs, by provider.",
    ["provider"],
    registry=REGISTRY,
)
SYNC_FAILURES = Counter(
    "chronik_sync_failures",
    "Sync runs that ended in an error, by provider.",
    ["provider"],
    registry=REGISTRY,
)
PROVIDER_REQUESTS = Counter(
    "chronik_provider_requests",
    "HTTP requests to calendar providers, by provider and status code "
    "('error' when no response came).",
    ["provider", "status"],
    registry=REGISTRY,
)
PROVIDER_LATENCY = Histogram(
    "chronik_provider_request_duration_seconds",
    "Time of one HTTP request to a calendar provider (each retry counts on its own).",
    ["provider"],
    registry=REGISTRY,
)

# Operation names are chosen by clients: keep the label set bounded.
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_NAMES = 500
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return "anonymous"
    if not _OPERATION_NAME.match(name):
        return "invalid"
    if name not in _operation_names:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
    return name


def observe_provider_request(provider: str, status: int | None, seconds: float) -> None:
    """One HTTP request to a provider's API; `provider` is its metric label (google, …)."""
    PROVIDER_REQUESTS.labels(provider, str(status) if status is not None else "error").inc()
    PROVIDER_LATENCY.labels(provider).observe(seconds)


def observe_sync_run(provider: str, outcome: str, events: int = 0) -> None:
    SYNC_RUNS.labels(provider, outcome).inc()
    if outcome == "ok":
        SYNC_EVENTS.labels(provider).inc(events)
    elif outcome != "cancelled":
        SYNC_FAILURES.labels(provider).inc()


# (worker, connection id) -> monotonic time the run took the lease
_leases: dict[tuple[str, int], float] = {}


@contextlib.contextmanager
def lease_held(worker: str, connection_id: int) -> Iterator[None]:
    """Count the block as time a sync run of this process holds the connection's lease."""
    key = (worker, connection_id)
    _leases[key] = time.monotonic()
    try:
        yield
    finally:
        _leases.pop(key, None)


class _LeaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        ages = [now - started for started in _leases.values()]
        held = GaugeMetricFamily(
            "chronik_sync_leases_held", "Connections this process is syncing right now."
        )
        held.add_metric([], len(ages))
        oldest = GaugeMetricFamily(
            "chronik_sync_oldest_lease_age_seconds",
            "How long the longest-running sync of this process has held its lease (0: none).",
        )
        oldest.add_metric([], max(ages, default=0.0))
        yield held
        yield oldest


REGISTRY.register(_LeaseCollector())


class _LiveFeedCollector(Collector):
    def __init__(self, live: LiveFeed) -> None:
        self._live = live

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "chronik_live_subscriptions", "Live GraphQL subscriptions served by this process."
        )
        active.add_metric([], self._live.subscriber_count)
        reconnects = CounterMetricFamily(
            "chronik_listen_reconnects",
            "Times this process re-established its LISTEN connection to PostgreSQL.",
        )
        reconnects.add_metric([], self._live.reconnects)
        yield active
        yield reconnects


def exposition(live: LiveFeed | None) -> bytes:
    """Every metric of this process in the Prometheus text format."""
    text = generate_latest(REGISTRY)
    if live is not None:
        per_app = CollectorRegistry()
        per_app.register(_LiveFeedCollector(live))
        text += generate_latest(per_app)
    return text


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _refusal(token: str | None, production: bool, authorization: str) -> tuple[int, str] | None:
    """Why a scrape is refused (status, text), or None: the policy of `/metrics` everywhere."""
    if token is not None:
        expected = f"Bearer {token}".encode()
        if not hmac.compare_digest(authorization.encode("latin-1", "replace"), expected):
            return 401, "send Authorization: Bearer <CHRONIK_METRICS_TOKEN>"
    elif production:
        return 403, "metrics are off in production until CHRONIK_METRICS_TOKEN is set"
    return None


def serve_worker_metrics(
    port: int, *, token: str | None, production: bool, host: str = "0.0.0.0"
) -> WSGIServer:
    """Serve this process's metrics at http://`host`:`port`/metrics from a daemon thread (a
    `chronik worker` has no web server of its own), under the same token as `chronik
    serve`'s `/metrics`: the worker's port listens on every interface."""
    exposition_app = make_wsgi_app(REGISTRY)

    def guarded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        refused = _refusal(token, production, environ.get("HTTP_AUTHORIZATION", ""))
        if refused is None:
            return exposition_app(environ, start_response)
        status, text = refused
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if status == 401:
            headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
        start_response(f"{status} {'Unauthorized' if status == 401 else 'Forbidden'}", headers)
        return [text.encode()]

    server = make_server(
        host, port, guarded, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server


def metrics_endpoint(
    token: str | None, *, production: bool
) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics. With `token`, only for `Authorization: Bearer <token>` (401 otherwise, as
    Prometheus' `authorization` scrape setting expects); without one, open outside production
    and 403 in production, where metrics (operation names, provider error rates, subscriber
    counts) are not for the public network."""

    async def metrics(request: Request) -> Response:
        refused = _refusal(token, production, request.headers.get("authorization", ""))
        if refused is not None:
            status, text = refused
            headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else None
            return PlainTextResponse(text, status_code=status, headers=headers)
        services = getattr(request.app.state, "services", None)
        live = services.live if services is not None else None
        return Response(exposition(live), media_type=CONTENT_TYPE)

    return metrics
