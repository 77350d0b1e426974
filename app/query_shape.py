"""The shape of a GraphQL operation: depth, aliases and worst-case nodes, in linear time.

Every fragment is analysed once and its result reused at each of its spreads, so a document
of fragments that spread each other twice over (`F0 { ...F1 ...F1 }`, `F1 { ...F2 ...F2 }`
…), whose expansion doubles with every level, costs no more than its length. A spread of a
fragment that is still being analysed (a cycle) counts as empty; graphql-core's
`NoFragmentCyclesRule` refuses such a document anyway.

Nodes are the objects the answer may hold at worst, in the manner of GitHub's node limit:
every object a field returns counts once, a connection's `edges` count as many times as its
page may hold (`first`, or `DEFAULT_PAGE_SIZE` without it, `MAX_PAGE_SIZE` for a value the
resolver would refuse), and a list without pagination (a meeting's `attendees`, the
account's calendar connections) counts as `ASSUMED_LIST_LENGTH` items. Counts multiply down
through nested connections and lists. Introspection fields (`__schema`, `__type`) count
neither depth nor nodes: graphql-core's `MaxIntrospectionDepthRule` bounds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# Lists without pagination are assumed to hold this many items at worst (a meeting's
# attendees are few; a meeting with more still answers in full, it only costs more than
# its estimate).
ASSUMED_LIST_LENGTH = 50
# Counts saturate here: an exponential expansion stays a small integer (and JSON-safe).
SATURATED = 2**53 - 1


def _add(a: int, b: int) -> int:
    return min(a + b, SATURATED)


def _times(a: int, b: int) -> int:
    return min(a * b, SATURATED)


@dataclass(frozen=True, slots=True)
class Shape:
    """What a selection set asks for, expanded.

    `depth`: levels of nested selections below it (a leaf field adds none);
    `aliases`: aliased fields, once per place they occur in the expansion;
    `nodes`: objects it returns at worst; `nodes_per_item`: for a selection on a connection
    type, the objects under its `edges` per item of the page (multiplied by the page size
    where the connection field's `first` is known).
    """

    depth: int = 0
    aliases: int = 0
    nodes: int = 0
    nodes_per_item: int = 0

    def merged(self, other: Shape) -> Shape:
        return Shape(
            max(self.depth, other.depth),
            _add(self.aliases, other.aliases),
            _add(self.nodes, other.nodes),
            _add(self.nodes_per_item, other.nodes_per_item),
        )


EMPTY = Shape()


def is_connection(type_: GraphQLNamedType | None) -> bool:
    """A Relay connection type (its `edges` list holds one page)."""
    return isinstance(type_, GraphQLObjectType) and {"edges", "pageInfo"} <= type_.fields.keys()


class ShapeAnalysis:
    """Shapes of a document's operations; `variables` are the request's (for `first: $n`)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments.setdefault(definition.name.value, definition)
        self._shapes: dict[str, Shape] = {}
        self._defaults: dict[str, Any] = {}

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        """The shape of `operation` (its root fields at depth 0)."""
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return EMPTY
        self._defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        self._analyse_fragments_under(operation.selection_set)
        return self._selection(operation.selection_set, root)

    # -- fragments, each once, the spread ones before those that spread them ----------------

    def _analyse_fragments_under(self, selection_set: SelectionSetNode) -> None:
        """Analyse every fragment reachable from `selection_set`, dependencies first, with an
        explicit stack (a chain of hundreds of fragments must not exhaust Python's)."""
        in_progress: set[str] = set()
        stack: list[tuple[str, list[str]]] = []

        def enter(name: str) -> None:
            in_progress.add(name)
            stack.append((name, list(reversed(_spreads(self.fragments[name].selection_set)))))

        pending = list(reversed(_spreads(selection_set)))
        while pending or stack:
            if not stack:
                name = pending.pop()
                if name in self.fragments and name not in self._shapes:
                    enter(name)
                continue
            name, children = stack[-1]
            while children:
                child = children.pop()
                if (
                    child in self.fragments
                    and child not in self._shapes
                    and child not in in_progress
                ):
                    enter(child)
                    break
            else:
                stack.pop()
                fragment = self.fragments[name]
                type_ = self.schema.get_type(fragment.type_condition.name.value)
                self._shapes[name] = self._selection(fragment.selection_set, type_)
                in_progress.discard(name)

    # -- selection sets -----------------------------------------------------------------------

    def _selection(self, selection_set: SelectionSetNode, parent: Any) -> Shape:
        shape = EMPTY
        seen_spreads: set[str] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                shape = shape.merged(self._field(selection, parent))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                # A fragment spread twice into one selection is collected once on execution.
                if name not in seen_spreads:
                    seen_spreads.add(name)
                    shape = shape.merged(self._shapes.get(name, EMPTY))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                type_ = self.schema.get_type(condition.name.value) if condition else parent
                shape = shape.merged(self._selection(selection.selection_set, type_))
        return shape

    def _field(self, node: FieldNode, parent: Any) -> Shape:
        aliases = 1 if node.alias is not None else 0
        name = node.name.value
        definition: GraphQLField | None = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(name)
        if name.startswith("__") or definition is None or node.selection_set is None:
            return Shape(aliases=aliases)
        type_ = get_named_type(definition.type)
        child = self._selection(node.selection_set, type_)
        page = self._page_size(node) if is_connection(type_) else 0
        each = _add(_add(1, child.nodes), _times(page, child.nodes_per_item))
        shape = Shape(1 + child.depth, _add(aliases, child.aliases))
        if name == "edges" and is_connection(parent):
            return Shape(shape.depth, shape.aliases, nodes_per_item=each)
        if _is_list(definition.type):
            each = _times(ASSUMED_LIST_LENGTH, each)
        return Shape(shape.depth, shape.aliases, nodes=each)

    def _page_size(self, node: FieldNode) -> int:
        """The page a connection field may return: its `first`, as sent or defaulted."""
        for argument in node.arguments or ():
            if argument.name.value == "first":
                return _page(self._value(argument.value))
        return DEFAULT_PAGE_SIZE

    def _value(self, node: Any) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in self.variables:
                return self.variables[name]
            default = self._defaults.get(name)
            return None if default is None else self._value(default)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, NullValueNode):
            return None
        return MAX_PAGE_SIZE  # not an integer: the resolver refuses it; count the worst


def _page(value: Any) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PAGE_SIZE:
        return value
    return MAX_PAGE_SIZE  # refused by the resolver; never counted as less than a full page


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    """Names of the fragments spread anywhere under `selection_set` (not through fragments)."""
    names: list[str] = []
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)
    return names
