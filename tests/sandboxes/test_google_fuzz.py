"""Robustness: arbitrary event bodies never crash the Google sandbox — every one is either
stored or refused with a Google error (what the HTTP layer turns into a 4xx, never a 500)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandboxes.google import errors
from sandboxes.google.sandbox import GoogleSandbox

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-12-01",
            "2026-12-01T10:00:00Z",
            "Europe/Berlin",
            "RRULE:FREQ=DAILY;COUNT=2",
            "private",
            "cancelled",
            "a@b.c",
            "UTC",
            "2026-13-45T99:00:00",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "date",
                    "dateTime",
                    "timeZone",
                    "email",
                    "responseStatus",
                    "private",
                    "shared",
                    "useDefault",
                ]
            ),
            children,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
fields = st.sampled_from(
    [
        "summary",
        "start",
        "end",
        "attendees",
        "recurrence",
        "visibility",
        "status",
        "id",
        "extendedProperties",
        "reminders",
        "transparency",
        "organizer",
        "sequence",
        "iCalUID",
        "eventType",
    ]
)
bodies = st.dictionaries(fields, json_values, max_size=6)


@settings(max_examples=200, deadline=None)
@given(body=bodies, patch=bodies)
def test_any_body_is_stored_or_refused(body: dict[str, Any], patch: dict[str, Any]) -> None:
    sandbox = GoogleSandbox(seed=2, clock=lambda: 1_790_000_000.0)
    sandbox.create_user("fuzz@example.com")
    calendar = sandbox.calendars["fuzz@example.com"]
    try:
        event = sandbox.insert_event(calendar, body)
    except errors.GoogleApiError as exc:
        assert 400 <= exc.code < 500
        return
    assert event.wire_bytes()
    try:
        sandbox.patch_event(calendar, event.id, patch)
    except errors.GoogleApiError as exc:
        assert 400 <= exc.code < 500


list_params = st.dictionaries(
    st.sampled_from(
        [
            "maxResults",
            "pageToken",
            "syncToken",
            "showDeleted",
            "singleEvents",
            "timeMin",
            "timeMax",
            "orderBy",
            "updatedMin",
            "q",
            "iCalUID",
            "privateExtendedProperty",
            "eventTypes",
        ]
    ),
    st.one_of(
        st.text(max_size=10),
        st.sampled_from(
            [
                "true",
                "false",
                "0",
                "2500",
                "-1",
                "startTime",
                "updated",
                "2026-12-01T00:00:00Z",
                "2026-01-01T00:00:00+01:00",
                "a=b",
                "outOfOffice",
            ]
        ),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(params=list_params)
def test_any_list_query_is_answered_or_refused(params: dict[str, str]) -> None:
    from sandboxes.google import listing

    sandbox = GoogleSandbox(seed=3, clock=lambda: 1_790_000_000.0)
    sandbox.create_user("fuzz@example.com")
    calendar = sandbox.calendars["fuzz@example.com"]
    sandbox.insert_event(
        calendar,
        {
            "summary": "s",
            "recurrence": ["RRULE:FREQ=DAILY"],
            "start": {"dateTime": "2026-11-30T10:00:00Z"},
            "end": {"dateTime": "2026-11-30T11:00:00Z"},
        },
    )
    try:
        page = listing.list_events(sandbox, calendar, params)
    except errors.GoogleApiError as exc:
        assert exc.code in (400, 410)
        return
    assert page.startswith(b'{"kind":"calendar#events"')
