"""calendarView delta rounds: skip tokens (pages of a round) and delta tokens (sync states).

A delta token names a *sync state*: the calendar, the window and the ``{id: changeKey}`` of every
instance the client has been given. Following its deltaLink diffs the current view against that
map: new or changed instances come back whole, vanished ones as ``@removed`` stubs. A round's
results are fixed when it starts and paged out with skip tokens; each page has its own token, so
retrying a nextLink returns the same page. Like Outlook's delta token cache, only the newest
``max_states`` states per user survive; an evicted or invalidated token answers 410.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .ids import IdFactory


@dataclass
class SyncState:
    """What a ``$deltatoken`` names."""

    email: str
    calendar_id: str
    start: datetime
    end: datetime
    seen: dict[str, str]


@dataclass
class Round:
    """One round of delta pages, fixed when it started."""

    email: str
    calendar_id: str
    items: list[Any]
    final: SyncState


@dataclass
class Page:
    """One page of a round, and the token of what follows (exactly one is set)."""

    items: list[Any]
    skip_token: str | None
    delta_token: str | None


class TokenGone(Exception):
    """The token is unknown, evicted or invalidated: the client must resync (410)."""


def removed_stub(event_id: str) -> dict[str, Any]:
    """How a delta page reports an instance that left the view."""
    return {"@odata.type": "#microsoft.graph.event", "id": event_id,
            "@removed": {"reason": "deleted"}}


class DeltaTracker:
    """All sync states and rounds of one sandbox."""

    def __init__(self, ids: IdFactory, max_states: int = 200, max_rounds: int = 1000) -> None:
        self._ids = ids
        self.max_states = max_states
        self.max_rounds = max_rounds
        self._states: OrderedDict[str, SyncState] = OrderedDict()
        self._rounds: OrderedDict[str, Round] = OrderedDict()
        self._pages: OrderedDict[str, tuple[str, int]] = OrderedDict()  # skiptoken -> round

    def state(self, token: str) -> SyncState:
        """The sync state a delta token names; TokenGone when unknown or evicted."""
        try:
            return self._states[token]
        except KeyError:
            raise TokenGone(token) from None

    def start_round(
        self,
        email: str,
        calendar_id: str,
        start: datetime,
        end: datetime,
        view: list[Any],
        since: SyncState | None,
    ) -> str:
        """Fix a round's results (the full view, or the diff against ``since``) and return the
        skip token of its first page."""
        seen = {item["id"]: item.get("changeKey", "") for item in view}
        if since is None:
            items = list(view)
        else:
            items = [item for item in view if since.seen.get(item["id"]) != seen[item["id"]]]
            items.extend(removed_stub(i) for i in since.seen if i not in seen)
        round_id = self._ids.opaque(12)
        self._rounds[round_id] = Round(
            email, calendar_id, items, SyncState(email, calendar_id, start, end, seen)
        )
        while len(self._rounds) > self.max_rounds:
            self._rounds.popitem(last=False)
        return self._page_token(round_id, 0)

    def page(self, skip_token: str, size: int) -> tuple[Round, Page]:
        """The page a skip token names; the last page carries a new delta token."""
        try:
            round_id, offset = self._pages[skip_token]
            round_ = self._rounds[round_id]
        except KeyError:
            raise TokenGone(skip_token) from None
        items = round_.items[offset:offset + size]
        if offset + size < len(round_.items):
            return round_, Page(items, self._page_token(round_id, offset + size), None)
        return round_, Page(items, None, self._save_state(round_.final))

    def invalidate(self, email: str | None = None) -> int:
        """Forget sync states and rounds (of one user, or all): their tokens answer 410 next.
        Returns how many delta tokens died."""
        dead = [t for t, s in self._states.items() if email is None or s.email == email]
        for token in dead:
            del self._states[token]
        for round_id in [r for r, v in self._rounds.items() if email is None or v.email == email]:
            del self._rounds[round_id]
        return len(dead)

    def reset(self) -> None:
        """Forget everything."""
        self._states.clear()
        self._rounds.clear()
        self._pages.clear()

    def _page_token(self, round_id: str, offset: int) -> str:
        token = self._ids.opaque(18)
        self._pages[token] = (round_id, offset)
        while len(self._pages) > self.max_rounds * 4:
            self._pages.popitem(last=False)
        return token

    def _save_state(self, state: SyncState) -> str:
        # Each completed fetch of the last page mints a token; they all name the same state.
        token = self._ids.opaque(24)
        self._states[token] = state
        mine = [t for t, s in self._states.items() if s.email == state.email]
        for old in mine[: max(0, len(mine) - self.max_states)]:
            del self._states[old]
        return token
