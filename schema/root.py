"""The schema: every domain's queries and mutations merged into the root types."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.tools import merge_types

from schema.accounts import AccountMutations, AccountQueries
from schema.argument_checks import CheckedArguments
from schema.companies import CompanyMutations, CompanyQueries
from schema.connections import ConnectionMutations, ConnectionQueries
from schema.contacts import ContactMutations, ContactQueries
from schema.deals import DealMutations, DealQueries
from schema.explain import ExplainQueries
from schema.masking import ChronikSchema, MaskInternalErrors
from schema.meetings import MeetingQueries
from schema.metrics_extension import OperationMetrics
from schema.nodes import NodeQueries
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
        NodeQueries,
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


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    # strawberry's own rules, as its validation adds them.
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


class CachedValidation(SchemaExtension):
    """Validates each distinct document once (keyed by the document CachedParse keeps, the
    rules and whether suggestions are hidden), like strawberry's `ValidationCache`, but
    without "Did you mean …?" suggestions where the schema hides them."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema = context.schema
        assert context.graphql_document is not None
        context.pre_execution_errors = _validate(
            schema._schema,
            context.graphql_document,
            tuple(context.validation_rules),
            isinstance(schema, ChronikSchema) and schema.hide_suggestions,
        )
        yield


def quiet_executor(executor: type[SharedEventExecutor]) -> type[SharedEventExecutor]:
    """`executor`, never suggesting names in its errors (a variable's unknown enum value or
    input field)."""

    class QuietExecutor(executor):  # type: ignore[valid-type, misc]
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            return super().build(*args, **{**kwargs, "hide_suggestions": True})

    return QuietExecutor


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    *,
    hide_suggestions: bool = False,
) -> ChronikSchema:
    """The schema with `extensions` (limits, say) run before the masking of internal errors;
    `hide_suggestions`: errors never say "Did you mean …?" (production: they would tell an
    anonymous caller the names of fields, arguments and enum values).

    The caches come after `extensions`: a limit sets its parse options and validation rules
    first, and they are part of the cache keys. `CheckedArguments` comes after validation,
    so it only looks at documents that fit the schema.
    """
    built = ChronikSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            OperationMetrics,
            *extensions,
            CachedParse,
            CachedValidation,
            CheckedArguments,
            MaskInternalErrors,
        ],
        execution_context_class=(
            quiet_executor(SharedEventExecutor) if hide_suggestions else SharedEventExecutor
        ),
    )
    built.hide_suggestions = hide_suggestions
    return built


schema = build_schema()
