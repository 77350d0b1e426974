"""The schema: every domain's queries and mutations merged into the root types."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.tools import merge_types

from schema.accounts import AccountMutations, AccountQueries
from schema.companies import CompanyMutations, CompanyQueries
from schema.connections import ConnectionMutations, ConnectionQueries
from schema.contacts import ContactMutations, ContactQueries
from schema.deals import DealMutations, DealQueries
from schema.explain import ExplainQueries
from schema.masking import ChronikSchema, MaskInternalErrors
from schema.meetings import MeetingQueries
from schema.metrics_extension import OperationMetrics
from schema.scheduling import SchedulingMutations, SchedulingQueries
from schema.subscriptions import SharedEventExecutor, Subscription
from schema.tickets import TicketMutations, TicketQueries

Query = merge_types(
    "Query",
    (
        AccountQueries,
        ContactQueries,
        CompanyQueries,
        DealQueries,
        TicketQueries,
        ConnectionQueries,
        MeetingQueries,
        SchedulingQueries,
        ExplainQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutations,
        ContactMutations,
        CompanyMutations,
        DealMutations,
        TicketMutations,
        ConnectionMutations,
        SchedulingMutations,
    ),
)


# Distinct documents remembered: clients send a handful of fixed queries; a bound keeps a
# stream of unique texts from growing memory.
CACHED_DOCUMENTS = 256

_documents: OrderedDict[tuple[str, tuple[tuple[str, object], ...]], DocumentNode] = OrderedDict()


class CachedParse(SchemaExtension):
    """Parses each distinct query text once (the timeline query costs ~1 ms to parse).

    Unlike strawberry's `ParserCache`, a miss is parsed by strawberry itself, so a syntax
    error is answered (and typed by the limits) exactly as without the cache; only documents
    that parsed are kept. The parse options (the token limit) are part of the key.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is None or context.graphql_document is not None:
            yield
            return
        key = (context.query, tuple(sorted(context.parse_options.items())))
        document = _documents.get(key)
        if document is not None:
            _documents.move_to_end(key)
            context.graphql_document = document
            yield
            return
        yield
        if context.graphql_document is not None and not context.pre_execution_errors:
            _documents[key] = context.graphql_document
            if len(_documents) > CACHED_DOCUMENTS:
                _documents.popitem(last=False)


def _validation_cache() -> SchemaExtension:
    # Keyed by (schema, document, rules): a hit needs the very document object CachedParse keeps.
    return ValidationCache(maxsize=CACHED_DOCUMENTS)


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> ChronikSchema:
    """The schema with `extensions` (limits, say) run before the masking of internal errors.

    The caches come after `extensions`: a limit sets its parse options and validation rules
    first, and they are part of the cache keys.
    """
    return ChronikSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            OperationMetrics,
            *extensions,
            CachedParse,
            _validation_cache,
            MaskInternalErrors,
        ],
        execution_context_class=SharedEventExecutor,
    )


schema = build_schema()
