"""Property: a client that full-syncs once and then only applies incremental syncs (sync tokens,
any page size, changes landing between its pages) ends with exactly what a fresh full sync
shows. Driven in-process against the Google sandbox's listing (no HTTP, so it stays fast)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sandboxes.google import errors, listing
from sandboxes.google.sandbox import GoogleSandbox

OWNER = "prop@example.com"

operation = st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 28)),
    st.tuples(st.just("patch"), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("series"), st.integers(1, 28)),
    st.tuples(st.just("occurrence"), st.integers(0, 50)),
)


def apply(sandbox: GoogleSandbox, op: tuple[str, int]) -> None:
    kind, n = op
    calendar = sandbox.calendars[OWNER]
    live = [e.id for e in calendar.events.values() if not e.deleted]
    body: dict[str, Any] = {
        "summary": f"e{n}",
        "start": {"dateTime": f"2026-02-{n % 28 + 1:02d}T10:00:00Z"},
        "end": {"dateTime": f"2026-02-{n % 28 + 1:02d}T11:00:00Z"},
    }
    if kind == "insert":
        sandbox.insert_event(calendar, body)
    elif kind == "series":
        sandbox.insert_event(calendar, {**body, "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"]})
    elif not live:
        return
    elif kind == "patch":
        sandbox.patch_event(calendar, live[n % len(live)], {"summary": f"p{n}"})
    elif kind == "delete":
        sandbox.delete_event(calendar, live[n % len(live)])
    elif kind == "cancel":
        sandbox.ui_cancel_event(OWNER, live[n % len(live)])
    elif kind == "occurrence":
        masters = [e for e in calendar.events.values() if e.is_master and not e.cancelled]
        if masters:
            master = masters[n % len(masters)]
            instance = f"{master.id}_{master.start.instance_suffix()}"
            try:
                sandbox.patch_event(calendar, instance, {"summary": f"x{n}"})
            except errors.GoogleApiError:
                pass  # the occurrence was cancelled already


def sync(
    sandbox: GoogleSandbox,
    params: dict[str, str],
    page_size: int,
    between_pages: list[tuple[str, int]],
) -> tuple[list[dict[str, Any]], str]:
    calendar = sandbox.calendars[OWNER]
    query = {**params, "maxResults": str(page_size)}
    single = params.get("singleEvents")
    items: list[dict[str, Any]] = []
    pending = list(between_pages)
    while True:
        page = orjson.loads(listing.list_events(sandbox, calendar, query))
        items.extend(page["items"])
        if "nextPageToken" not in page:
            return items, page["nextSyncToken"]
        if pending:
            apply(sandbox, pending.pop(0))
        query = {"maxResults": str(page_size), "pageToken": page["nextPageToken"]}
        if single:
            query["singleEvents"] = single


def visible(items: list[dict[str, Any]]) -> dict[str, str]:
    return {item["id"]: item["etag"] for item in items if item["status"] != "cancelled"}


@settings(max_examples=60, deadline=None)
@given(
    setup=st.lists(operation, max_size=15),
    rounds=st.lists(
        st.tuples(st.lists(operation, max_size=8), st.lists(operation, max_size=3)),
        min_size=1,
        max_size=4,
    ),
    page_size=st.integers(1, 7),
    single=st.booleans(),
)
def test_incremental_sync_converges_to_full_sync(
    setup: list[tuple[str, int]],
    rounds: list[tuple[list[tuple[str, int]], list[tuple[str, int]]]],
    page_size: int,
    single: bool,
) -> None:
    sandbox = GoogleSandbox(seed=1, clock=lambda: 1_790_000_000.0)
    sandbox.create_user(OWNER)
    for op in setup:
        apply(sandbox, op)
    mode = {"singleEvents": "true"} if single else {}
    items, token = sync(sandbox, mode, page_size, [])
    state = visible(items)
    for changes, during in rounds:
        for op in changes:
            apply(sandbox, op)
        delta, token = sync(sandbox, {"syncToken": token, **mode}, page_size, during)
        for item in delta:
            if item["status"] == "cancelled":
                state.pop(item["id"], None)
            else:
                state[item["id"]] = item["etag"]
    # One more incremental pass picks up what landed between the last pages.
    delta, _ = sync(sandbox, {"syncToken": token, **mode}, page_size, [])
    for item in delta:
        if item["status"] == "cancelled":
            state.pop(item["id"], None)
        else:
            state[item["id"]] = item["etag"]
    fresh, _ = sync(sandbox, mode, 1000, [])
    assert state == visible(fresh)
