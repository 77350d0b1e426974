"""Google's own Python client (google-api-python-client) against the sandbox over real HTTP.

The client builds requests from the discovery document shipped inside googleapiclient and parses
every answer itself, so these tests check the sandbox's paths, parameters and bodies conform.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.sandboxes.conftest import CLIENT_ID, GoogleHarness


def _service(google: GoogleHarness) -> Any:
    return build(
        "calendar",
        "v3",
        credentials=Credentials(token=google.token),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": google.url + "/calendar/v3/"},
    )


async def _run(fn: Any) -> Any:
    """The client is synchronous (httplib2): run it in a thread, the sandbox stays on the loop."""
    return await asyncio.to_thread(fn)


def _event(summary: str, day: int, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": f"2026-12-{day:02d}T10:00:00Z"},
        "end": {"dateTime": f"2026-12-{day:02d}T11:00:00Z"},
        **extra,
    }


async def test_client_lists_inserts_patches_deletes(google: GoogleHarness) -> None:
    service = _service(google)
    events = service.events()
    created = await _run(
        lambda: events.insert(calendarId="primary", body=_event("Kickoff", 1)).execute()
    )
    assert created["summary"] == "Kickoff"
    assert created["organizer"]["email"] == "alice@example.com"

    patched = await _run(
        lambda: events.patch(
            calendarId="primary", eventId=created["id"], body={"location": "Room 1"}
        ).execute()
    )
    assert patched["location"] == "Room 1"
    assert patched["etag"] != created["etag"]

    listed = await _run(lambda: events.list(calendarId="primary").execute())
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["kind"] == "calendar#events"

    await _run(lambda: events.delete(calendarId="primary", eventId=created["id"]).execute())
    after = await _run(lambda: events.list(calendarId="primary").execute())
    assert after["items"] == []
    fetched = await _run(lambda: events.get(calendarId="primary", eventId=created["id"]).execute())
    assert fetched["status"] == "cancelled"


async def test_client_pages_with_list_next_and_gets_sync_token(google: GoogleHarness) -> None:
    google.sandbox.bulk_load("alice@example.com", 23)
    events = _service(google).events()
    seen: list[str] = []
    pages = 0
    request = events.list(calendarId="primary", maxResults=5)
    response: dict[str, Any] = {}
    while request is not None:
        response = await _run(request.execute)
        pages += 1
        seen.extend(item["id"] for item in response["items"])
        if "nextPageToken" in response:
            assert "nextSyncToken" not in response
        request = events.list_next(request, response)
    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    assert response["nextSyncToken"]


async def test_client_gets_http_error_410_on_stale_sync_token(google: GoogleHarness) -> None:
    events = _service(google).events()
    full = await _run(lambda: events.list(calendarId="primary").execute())
    google.sandbox.expire_sync_tokens("alice@example.com")
    with pytest.raises(HttpError) as caught:
        await _run(
            lambda: events.list(calendarId="primary", syncToken=full["nextSyncToken"]).execute()
        )
    assert caught.value.resp.status == 410
    assert caught.value.error_details[0]["reason"] == "fullSyncRequired"


async def test_client_calendar_list_and_free_busy(google: GoogleHarness) -> None:
    google.sandbox.add_calendar("alice@example.com", "Side projects")
    service = _service(google)
    await _run(
        lambda: service.events().insert(calendarId="primary", body=_event("Busy", 2)).execute()
    )
    calendars = await _run(lambda: service.calendarList().list().execute())
    primary = [c for c in calendars["items"] if c.get("primary")]
    assert [c["id"] for c in primary] == ["alice@example.com"]
    assert len(calendars["items"]) == 2
    busy = await _run(
        lambda: (
            service.freebusy()
            .query(
                body={
                    "timeMin": "2026-12-02T00:00:00Z",
                    "timeMax": "2026-12-03T00:00:00Z",
                    "items": [{"id": "primary"}],
                }
            )
            .execute()
        )
    )
    assert busy["calendars"]["primary"]["busy"] == [
        {"start": "2026-12-02T10:00:00Z", "end": "2026-12-02T11:00:00Z"}
    ]


async def test_client_refreshes_on_401_through_sandbox_token_endpoint(
    google: GoogleHarness,
) -> None:
    tokens = await google.login()
    credentials = Credentials(
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_uri=google.url + "/token",
        client_id=CLIENT_ID,
        client_secret="sandbox-secret",
    )
    service = build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": google.url + "/calendar/v3/"},
    )
    google.sandbox.oauth.expire_access_tokens()
    listed = await _run(lambda: service.events().list(calendarId="primary").execute())
    assert listed["items"] == []
    assert credentials.token != tokens["access_token"]
    assert google.sandbox.oauth.token_requests["refresh_token"] == 1


async def test_client_fails_refresh_after_user_revoked_access(google: GoogleHarness) -> None:
    tokens = await google.login()
    credentials = Credentials(
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_uri=google.url + "/token",
        client_id=CLIENT_ID,
        client_secret="sandbox-secret",
    )
    service = build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": google.url + "/calendar/v3/"},
    )
    google.sandbox.oauth.revoke_user("alice@example.com")
    with pytest.raises(RefreshError, match="invalid_grant"):
        await _run(lambda: service.events().list(calendarId="primary").execute())


async def test_client_watch_instances_and_conflicts(google: GoogleHarness, receiver: Any) -> None:
    events = _service(google).events()
    series = await _run(
        lambda: events.insert(
            calendarId="primary",
            body=_event("Weekly", 7, recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"], id="standup0001"),
        ).execute()
    )
    with pytest.raises(HttpError) as duplicate:
        await _run(
            lambda: events.insert(
                calendarId="primary", body=_event("Again", 7, id="standup0001")
            ).execute()
        )
    assert duplicate.value.resp.status == 409
    instances = await _run(
        lambda: events.instances(calendarId="primary", eventId=series["id"]).execute()
    )
    assert [i["id"] for i in instances["items"]] == [
        "standup0001_20261207T100000Z",
        "standup0001_20261214T100000Z",
        "standup0001_20261221T100000Z",
    ]

    channel = await _run(
        lambda: events.watch(
            calendarId="primary",
            body={"id": "client-chan", "type": "web_hook", "address": receiver.url},
        ).execute()
    )
    assert channel["kind"] == "api#channel" and int(channel["expiration"]) > 0
    service = _service(google)
    await _run(
        lambda: (
            service.channels()
            .stop(body={"id": channel["id"], "resourceId": channel["resourceId"]})
            .execute()
        )
    )
    await google.sandbox.push.drain()
    assert [r["headers"]["X-Goog-Resource-State"] for r in receiver.requests] == ["sync"]
