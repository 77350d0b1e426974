"""Google's partial-response ``fields`` parameter (``fields=nextPageToken,items(id,start/date)``).

Parsed into a selection tree and applied to the JSON body of successful API answers; errors
are never filtered. A malformed selection is a 400, like Google's "Invalid field selection".
"""

from __future__ import annotations

from typing import Any

from sandboxes.google import errors

Selection = dict[str, "Selection | None"]  # None: the whole value


def _merge(into: Selection, name: str, sub: Selection | None) -> None:
    if name in into and into[name] is not None and sub is not None:
        existing = into[name]
        assert existing is not None
        for key, value in sub.items():
            _merge(existing, key, value)
    elif name in into and (into[name] is None or sub is None):
        into[name] = None
    else:
        into[name] = sub


def parse(text: str) -> Selection:
    """Parse a ``fields`` expression; 400 ``invalidParameter`` when malformed."""
    selection, pos = _parse_list(text, 0)
    if pos != len(text) or not selection:
        raise _invalid(text)
    return selection


def _invalid(text: str) -> errors.GoogleApiError:
    return errors.GoogleApiError(
        400, "invalidParameter", f"Invalid field selection {text}", location="fields"
    )


def _parse_list(text: str, pos: int) -> tuple[Selection, int]:
    selection: Selection = {}
    while True:
        path: list[str] = []
        start = pos
        while pos < len(text) and text[pos] not in ",()":
            pos += 1
        path = [part.strip() for part in text[start:pos].split("/")]
        if not all(path):
            raise _invalid(text)
        sub: Selection | None = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse_list(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise _invalid(text)
            pos += 1
        # a/b/c(sub) == a(b(c(sub)))
        for name in reversed(path[1:]):
            sub = {name: sub}
        _merge(selection, path[0], sub)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return selection, pos


def apply(value: Any, selection: Selection) -> Any:
    """Keep only the selected members (lists are filtered element-wise)."""
    if "*" in selection:
        return value
    if isinstance(value, list):
        return [apply(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    # A comprehension, not a loop: a 2,500-event page is filtered item by item.
    return {
        name: value[name] if sub is None else apply(value[name], sub)
        for name, sub in selection.items()
        if name in value
    }
