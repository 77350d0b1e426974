"""calendarView delta rounds: skip tokens (pages of a round) and delta tokens (sync states).

A delta token names a *sync state*: the calendar, the window, the calendar's change-log version
and the ``{id: changeKey}`` of every instance the client has been given (plus, per series, which
instance ids it holds). Following its deltaLink looks only at the records changed since that
version: new or changed instances come back whole, vanished ones as ``@removed`` stubs. A round's
results are fixed when it starts and paged out with skip tokens; each page has its own token, so
retrying a nextLink returns the same page. Like Outlook's delta token cache, only the newest
``max_states`` states per user survive; an evicted or invalidated token answers 410.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
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
    version: int
    seen: dict[str, str]  # instance id -> changeKey the client holds
    members: dict[str, set[str]]  # series master id -> instance ids the client holds


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
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": event_id,
        "@removed": {"reason": "deleted"},
    }


def _members(view: list[Any]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for item in view:
        master = item.get("seriesMasterId")
        if master:
            members.setdefault(master, set()).add(item["id"])
    return members


class DeltaTracker:
    """All sync states and rounds of one sandbox."""

    def __init__(self, ids: IdFactory, max_states: int = 200, max_rounds: int = 1000) -> None:
        self._ids = ids
        self.max_states = max_states
        self.max_rounds = max_rounds
        self._states: OrderedDict[str, SyncState] = OrderedDict()
        self._rounds: OrderedDict[str, Round] = OrderedDict()
        self._pages: OrderedDict[str, tuple[str, int]] = OrderedDict()  # skiptoken -> round
        self._repeats: dict[tuple[str, int], int] = {}  # (round, offset) -> times repeated

    def state(self, token: str) -> SyncState:
        """The sync state a delta token names; TokenGone when unknown or evicted."""
        try:
            return self._states[token]
        except KeyError:
            raise TokenGone(token) from None

    def full_round(
        self,
        email: str,
        calendar_id: str,
        start: datetime,
        end: datetime,
        version: int,
        view: list[Any],
    ) -> str:
        """Start a round that returns the whole view; returns its first page's skip token."""
        seen = {item["id"]: item.get("changeKey", "") for item in view}
        final = SyncState(email, calendar_id, start, end, version, seen, _members(view))
        return self._start(Round(email, calendar_id, list(view), final))

    def incremental_round(
        self,
        since: SyncState,
        version: int,
        changed: list[str],
        instances_of: Callable[[str], list[Any]],
    ) -> str:
        """Start a round with what changed since ``since``: ``changed`` are the ids of records
        (singles or series masters) touched after ``since.version``; ``instances_of(id)`` their
        current instances in the window. Returns the first page's skip token."""
        seen = dict(since.seen)
        members = dict(since.members)
        items: list[Any] = []
        for record_id in changed:
            current = instances_of(record_id)
            current_ids = {item["id"] for item in current}
            held = set(since.members.get(record_id, ()))
            if record_id in since.seen:
                held.add(record_id)
            for item in current:
                change_key = item.get("changeKey", "")
                if since.seen.get(item["id"]) != change_key:
                    items.append(item)
                    seen[item["id"]] = change_key
            for gone in sorted(held - current_ids):
                items.append(removed_stub(gone))
                seen.pop(gone, None)
            series_ids = {i["id"] for i in current if i.get("seriesMasterId") == record_id}
            if series_ids:
                members[record_id] = series_ids
            else:
                members.pop(record_id, None)
        final = SyncState(
            since.email, since.calendar_id, since.start, since.end, version, seen, members
        )
        return self._start(Round(since.email, since.calendar_id, items, final))

    def page(self, skip_token: str, size: int, repeats: int = 0) -> tuple[Round, Page]:
        """The page a skip token names; the last page carries a new delta token. With
        ``repeats``, a page that has a next one is first served ``repeats`` more times, each
        with a fresh skip token to itself (a quirk of the real service)."""
        try:
            round_id, offset = self._pages[skip_token]
            round_ = self._rounds[round_id]
        except KeyError:
            raise TokenGone(skip_token) from None
        items = round_.items[offset : offset + size]
        if offset + size < len(round_.items):
            served = self._repeats.get((round_id, offset), 0)
            if served < repeats:
                self._repeats[(round_id, offset)] = served + 1
                return round_, Page(items, self._page_token(round_id, offset), None)
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
        self._repeats.clear()

    def _start(self, round_: Round) -> str:
        round_id = self._ids.opaque(12)
        self._rounds[round_id] = round_
        while len(self._rounds) > self.max_rounds:
            self._rounds.popitem(last=False)
        return self._page_token(round_id, 0)

    def _page_token(self, round_id: str, offset: int) -> str:
        token = self._ids.opaque(18)
        self._pages[token] = (round_id, offset)
        while len(self._pages) > self.max_rounds * 4:
            self._pages.popitem(last=False)
        return token

    def _save_state(self, state: SyncState) -> str:
        # Each fetch of a round's last page mints a token; they all name the same state.
        token = self._ids.opaque(24)
        self._states[token] = state
        mine = [t for t, s in self._states.items() if s.email == state.email]
        for old in mine[: max(0, len(mine) - self.max_states)]:
            del self._states[old]
        return token
