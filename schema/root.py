"""The schema: every domain's queries and mutations merged into the root types."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types

from schema.accounts import AccountMutations, AccountQueries
from schema.connections import ConnectionMutations, ConnectionQueries
from schema.contacts import ContactMutations, ContactQueries
from schema.masking import MaskInternalErrors
from schema.meetings import MeetingQueries
from schema.metrics_extension import OperationMetrics
from schema.scheduling import SchedulingMutations, SchedulingQueries
from schema.subscriptions import SharedEventExecutor, Subscription

Query = merge_types(
    "Query",
    (AccountQueries, ContactQueries, ConnectionQueries, MeetingQueries, SchedulingQueries),
)
Mutation = merge_types(
    "Mutation",
    (AccountMutations, ContactMutations, ConnectionMutations, SchedulingMutations),
)


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema with `extensions` (limits, say) run before the masking of internal errors."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[OperationMetrics, *extensions, MaskInternalErrors],
        execution_context_class=SharedEventExecutor,
    )


schema = build_schema()
