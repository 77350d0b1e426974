"""Which fields a query selects, read straight from graphql-core's AST."""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info


def selects(
    selection_set: SelectionSetNode | None,
    name: str,
    info: Info[Any, Any],
    searched: set[str] | None = None,
) -> bool:
    """Whether field `name` is selected anywhere in this subtree, through fragments too.

    Walks graphql-core's AST: strawberry's `info.selected_fields` converts the whole subtree
    into its own nodes first, which cost 2 % of the timeline benchmark's server CPU. Each
    fragment is searched once (`searched`): a document whose fragments spread each other
    twice over would otherwise be walked 2^depth times, and hold the server meanwhile.
    """
    if selection_set is None:
        return False
    if searched is None:
        searched = set()
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            if node.name.value == name or selects(node.selection_set, name, info, searched):
                return True
        elif isinstance(node, InlineFragmentNode):
            if selects(node.selection_set, name, info, searched):
                return True
        elif isinstance(node, FragmentSpreadNode):
            if node.name.value in searched:
                continue  # searched already, without finding `name`
            searched.add(node.name.value)
            fragment = info._raw_info.fragments.get(node.name.value)
            if fragment is not None and selects(fragment.selection_set, name, info, searched):
                return True
    return False
