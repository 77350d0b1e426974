"""Every argument value of an operation checked before anything runs, in one place.

GraphQL's own coercion accepts any Unicode string for `String` and `ID`, and any ISO time
for `DateTime`; what PostgreSQL, UTF-8 and date arithmetic cannot take would otherwise
fail deep inside a resolver as an internal error. `CheckedArguments` walks the operation's
arguments — literals in the document and the request's variables, through input objects
and lists — and refuses, as `VALIDATION` naming the field:
- text holding a NUL character or a lone surrogate (`String`, `ID`), and
- a `DateTime` outside the years a calendar deals in, or with an impossible UTC offset
  (`resolvers.validation.calendar_time`).

The field named is the argument, or for an input object the field of it the value sits in
(`firstName`, `startsFrom`, `attendees` for an attendee's address), as the resolvers name them.
Literals are checked wherever they sit in the document (a document is checked once and the
verdict kept with it), variables on every request: ~2 µs a request for the timeline query.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dateutil.parser import isoparse
from graphql import (
    DocumentNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    Visitor,
    get_operation_ast,
    type_from_ast,
    visit,
)
from graphql.language import ArgumentNode
from strawberry.extensions import SchemaExtension

from resolvers.errors import ValidationFailed
from resolvers.validation import calendar_time, plain_text

TEXT_SCALARS = frozenset({"String", "ID"})
TIME_SCALAR = "DateTime"

# Documents whose arguments were mapped (clients send a handful of fixed documents; the
# bound keeps a stream of unique ones from growing memory).
REMEMBERED_DOCUMENTS = 256


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value sits: the field to name, and whether an input object's key below it
    should name it instead (only the outermost input field names a value)."""

    field: str
    final: bool


@dataclass
class ArgumentMap:
    """What a document's arguments need checked: where each variable is used, and the first
    refusal among its literal values (the same for every request sending the document)."""

    variables: dict[str, Place] = field(default_factory=dict)
    literal_refusal: tuple[str, str] | None = None  # (message, field)


_maps: OrderedDict[int, tuple[DocumentNode, ArgumentMap]] = OrderedDict()


class CheckedArguments(SchemaExtension):
    """Refuses an operation whose arguments hold a hostile value, before it executes.

    Runs after validation (it must come after the validation step in the extension list): a
    document that does not fit the schema is refused by the GraphQL layer as before.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            refusal = first_refusal(
                context.schema._schema, document, context.operation_name, context.variables
            )
            if refusal is not None:
                context.pre_execution_errors = [refusal]
        yield


def first_refusal(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> ValidationFailed | None:
    """The first hostile argument value of the operation, as the error to answer, or None."""
    arguments = _argument_map(schema, document)
    if arguments.literal_refusal is not None:
        message, name = arguments.literal_refusal
        return ValidationFailed(message, field=name)
    operation = get_operation_ast(document, operation_name)
    if operation is None or not variables:
        return None
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables:
            continue
        type_ = type_from_ast(schema, definition.type)
        place = arguments.variables.get(name, Place(name, final=False))
        try:
            _check_value(variables[name], type_, place)  # type: ignore[arg-type]
        except ValidationFailed as error:
            return error
    return None


def _argument_map(schema: GraphQLSchema, document: DocumentNode) -> ArgumentMap:
    remembered = _maps.get(id(document))
    if remembered is not None and remembered[0] is document:
        _maps.move_to_end(id(document))
        return remembered[1]
    found = ArgumentMap()
    type_info = TypeInfo(schema)
    visit(document, TypeInfoVisitor(type_info, _ArgumentCollector(type_info, found)))
    _maps[id(document)] = (document, found)
    if len(_maps) > REMEMBERED_DOCUMENTS:
        _maps.popitem(last=False)
    return found


class _ArgumentCollector(Visitor):
    def __init__(self, type_info: TypeInfo, found: ArgumentMap) -> None:
        super().__init__()
        self.type_info = type_info
        self.found = found

    def enter_argument(self, node: ArgumentNode, *_args: object) -> Any:
        argument = self.type_info.get_argument()
        if argument is not None:
            self._literal(node.value, argument.type, Place(node.name.value, final=False))
        return self.SKIP  # its value was walked here, with its type

    def _literal(self, node: ValueNode, type_: GraphQLInputType, place: Place) -> None:
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(node, VariableNode):
            self.found.variables.setdefault(node.name.value, place)
        elif isinstance(node, ListValueNode) and isinstance(type_, GraphQLList):
            for item in node.values:
                self._literal(item, type_.of_type, place)
        elif isinstance(node, ObjectValueNode) and isinstance(type_, GraphQLInputObjectType):
            for child in node.fields:
                input_field = type_.fields.get(child.name.value)
                if input_field is not None:
                    self._literal(child.value, input_field.type, _below(place, child.name.value))
        elif isinstance(node, StringValueNode) and self.found.literal_refusal is None:
            try:
                _check_leaf(node.value, type_, place.field)
            except ValidationFailed as error:
                self.found.literal_refusal = (error.message, place.field)


def _below(place: Place, key: str) -> Place:
    return place if place.final else Place(key, final=True)


def _check_value(value: object, type_: GraphQLInputType | None, place: Place) -> None:
    """Walks a variable's JSON value along its type; a value not of the type is left to
    GraphQL's coercion, which refuses it."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        for item in value if isinstance(value, list) else [value]:
            _check_value(item, type_.of_type, place)
    elif isinstance(type_, GraphQLInputObjectType):
        if isinstance(value, dict):
            for key, item in value.items():
                input_field = type_.fields.get(key)
                if input_field is not None:
                    _check_value(item, input_field.type, _below(place, key))
    elif isinstance(value, str):
        _check_leaf(value, type_, place.field)


def _check_leaf(value: str, type_: GraphQLInputType | None, name: str) -> None:
    if not isinstance(type_, GraphQLScalarType):
        return
    if type_.name in TEXT_SCALARS:
        plain_text(value, field=name)
    elif type_.name == TIME_SCALAR:
        try:
            # The parser the DateTime scalar uses: what it cannot read, coercion refuses.
            moment = isoparse(value)
        except (ValueError, OverflowError):
            return
        calendar_time(moment, field=name)
