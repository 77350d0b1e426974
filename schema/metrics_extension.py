"""Counts and times every GraphQL operation by name, and names the caller's account in logs."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from resolvers.context import Context
from telemetry import metrics
from telemetry.logs import bind_account_lookup


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            # Read when a record is logged: the viewer is known once a resolver asked for it.
            bind_account_lookup(lambda: getattr(context.known_viewer, "account_id", None))
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        execution = self.execution_context
        try:
            kind = execution.operation_type.value
        except RuntimeError:  # the document did not even parse
            kind = "unknown"
        result = execution.result
        failed = bool(execution.pre_execution_errors) or bool(result and result.errors)
        name = metrics.operation_label(execution.operation_name)
        metrics.GRAPHQL_REQUESTS.labels(name, kind, "error" if failed else "ok").inc()
        # A subscription's operation lasts as long as the client listens: not a latency.
        if kind != "subscription":
            metrics.GRAPHQL_LATENCY.labels(name, kind).observe(elapsed)
