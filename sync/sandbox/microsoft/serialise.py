"""orjson bytes of event resources, cached by (id, changeKey), for fast collection pages.

Stored resources are never mutated in place (every change builds a new dict with a new change
key), so ``(id, changeKey)`` names one exact JSON text. Large delta rounds serialise each event
once instead of once per page served; the cache is simply emptied when it grows past its cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson


class EventJsonCache:
    """``(id, changeKey) -> bytes`` of events already serialised."""

    def __init__(self, max_entries: int = 250_000) -> None:
        self.max_entries = max_entries
        self._bytes: dict[tuple[str, str], bytes] = {}

    def dumps(self, item: Any) -> bytes:
        """The JSON of one collection item (events cached; ``@removed`` stubs not)."""
        change_key = item.get("changeKey")
        if change_key is None:
            return orjson.dumps(item)
        key = (item["id"], change_key)
        raw = self._bytes.get(key)
        if raw is None:
            if len(self._bytes) >= self.max_entries:
                self._bytes.clear()
            raw = self._bytes[key] = orjson.dumps(item)
        return raw

    def collection(self, head: dict[str, Any], items: Iterable[Any], tail: dict[str, Any]
                   ) -> bytes:
        """``{**head, "value": [items...], **tail}`` as JSON bytes."""
        parts = [orjson.dumps(head)[:-1]]
        parts.append(b',"value":[' if head else b'"value":[')
        parts.append(b",".join(self.dumps(item) for item in items))
        parts.append(b"]")
        if tail:
            parts.append(b"," + orjson.dumps(tail)[1:])
        else:
            parts.append(b"}")
        return b"".join(parts)

    def clear(self) -> None:
        """Forget every cached text."""
        self._bytes.clear()
