"""Google's partial-response ``fields`` parameter on the sandbox's Calendar API answers."""

from __future__ import annotations

import pytest

from sandboxes.google import errors, fields
from tests.sandboxes.conftest import GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"


def test_parse_nested_paths_and_merges() -> None:
    assert fields.parse("nextPageToken,items(id,start/dateTime),items/end") == {
        "nextPageToken": None,
        "items": {"id": None, "start": {"dateTime": None}, "end": None},
    }
    for bad in ("", "items(id", "a,,b", "items)", "a//b"):
        with pytest.raises(errors.GoogleApiError):
            fields.parse(bad)


async def test_fields_filters_list_and_get(google: GoogleHarness) -> None:
    _, event, _ = await google.call(
        "POST",
        EVENTS,
        json={
            "summary": "s",
            "start": {"dateTime": "2026-12-01T10:00:00Z"},
            "end": {"dateTime": "2026-12-01T11:00:00Z"},
        },
    )
    status, body, _ = await google.call(
        "GET", EVENTS, params={"fields": "nextSyncToken,items(id,start/dateTime)"}
    )
    assert status == 200
    assert body == {
        "nextSyncToken": body["nextSyncToken"],
        "items": [{"id": event["id"], "start": {"dateTime": "2026-12-01T10:00:00Z"}}],
    }
    _, got, _ = await google.call("GET", f"{EVENTS}/{event['id']}", params={"fields": "etag"})
    assert got == {"etag": event["etag"]}
    status, error, _ = await google.call("GET", EVENTS, params={"fields": "items(id"})
    assert status == 400 and error["error"]["errors"][0]["location"] == "fields"
    # error bodies are never filtered
    status, missing, _ = await google.call("GET", f"{EVENTS}/nope12345", params={"fields": "id"})
    assert status == 404 and missing["error"]["code"] == 404
