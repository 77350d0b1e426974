"""The Microsoft sandbox's control API over HTTP: users and tokens, Outlook-side event changes
(including a contact's cancelled invitation), occurrences, bulk load, subscriptions, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

INVITE = {
    "subject": "Coffee with Carol",
    "start": {"dateTime": "2026-09-25T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-09-25T09:30:00", "timeZone": "UTC"},
    "organizer": {"emailAddress": {"address": "carol@fabrikam.example", "name": "Carol"}},
}
SERIES = {
    "subject": "Daily standup",
    "start": {"dateTime": "2026-09-28T08:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-09-28T08:15:00", "timeZone": "UTC"},
    "recurrence": {
        "pattern": {"type": "daily"},
        "range": {"type": "numbered", "startDate": "2026-09-28", "numberOfOccurrences": 5},
    },
}
WINDOW = {"startDateTime": "2026-09-01T00:00:00Z", "endDateTime": "2026-12-01T00:00:00Z"}


async def _delta(harness, link: str | None = None) -> tuple[list[dict], str]:
    if link is None:
        status, body, _ = await harness.call("GET", "/v1.0/me/calendarView/delta", params=WINDOW)
    else:
        status, body, _ = await harness.call("GET", link)
    assert status == 200, body
    items = list(body["value"])
    while "@odata.nextLink" in body:
        _, body, _ = await harness.call("GET", body["@odata.nextLink"])
        items.extend(body["value"])
    return items, body["@odata.deltaLink"]


async def test_token_for_a_new_user_works_on_graph(microsoft):
    await microsoft.control(
        "POST", "/_sandbox/users", json={"email": "erin@contoso.example", "displayName": "Erin Q"}
    )
    answer = await microsoft.control("POST", "/_sandbox/users/erin@contoso.example/token")
    status, me, _ = await microsoft.call("GET", "/v1.0/me", token=answer["access_token"])
    assert status == 200 and me["displayName"] == "Erin Q"


async def test_cancelled_invitation_then_deleted_shows_as_update_then_removed(microsoft):
    path = f"/_sandbox/users/{microsoft.email}/events"
    invite = await microsoft.control("POST", path, json=INVITE)
    _, link = await _delta(microsoft)
    await microsoft.control("POST", f"{path}/{invite['id']}/cancel")
    items, link = await _delta(microsoft, link)
    assert [(i["id"], i["isCancelled"], i["subject"]) for i in items] == [
        (invite["id"], True, "Canceled: Coffee with Carol")
    ]
    async with microsoft.http.delete(microsoft.url + f"{path}/{invite['id']}") as resp:
        assert resp.status == 204
    items, _ = await _delta(microsoft, link)
    assert items == [
        {
            "@odata.type": "#microsoft.graph.event",
            "id": invite["id"],
            "@removed": {"reason": "deleted"},
        }
    ]


async def test_outlook_edit_and_is_cancelled_flag(microsoft):
    path = f"/_sandbox/users/{microsoft.email}/events"
    event = await microsoft.control("POST", path, json=INVITE)
    edited = await microsoft.control(
        "PATCH", f"{path}/{event['id']}", json={"subject": "Tea with Carol", "isCancelled": True}
    )
    assert edited["subject"] == "Tea with Carol" and edited["isCancelled"] is True
    assert edited["lastModifiedDateTime"] >= event["lastModifiedDateTime"]


async def test_occurrence_changes_through_the_control_api(microsoft):
    path = f"/_sandbox/users/{microsoft.email}/events"
    series = await microsoft.control("POST", path, json=SERIES)
    exception = await microsoft.control(
        "PATCH",
        f"{path}/{series['id']}/occurrences",
        json={"originalStart": "2026-09-29T08:00:00Z", "changes": {"subject": "Long standup"}},
    )
    assert exception["type"] == "exception" and exception["seriesMasterId"] == series["id"]
    async with microsoft.http.post(
        microsoft.url + f"{path}/{series['id']}/occurrences/cancel",
        json={"originalStart": "2026-09-30T08:00:00Z"},
    ) as resp:
        assert resp.status == 204
    items, _ = await _delta(microsoft)
    assert [(i["start"]["dateTime"][:10], i["type"], i["subject"]) for i in items] == [
        ("2026-09-28", "occurrence", "Daily standup"),
        ("2026-09-29", "exception", "Long standup"),
        ("2026-10-01", "occurrence", "Daily standup"),
        ("2026-10-02", "occurrence", "Daily standup"),
    ]


async def test_bulk_load_over_http(microsoft):
    answer = await microsoft.control(
        "POST",
        f"/_sandbox/users/{microsoft.email}/events/bulk",
        json={
            "count": 250,
            "start": "2026-10-01T08:00:00Z",
            "spanDays": 30,
            "attendees": ["carol@fabrikam.example"],
        },
    )
    assert answer == {"created": 250}
    items, _ = await _delta(microsoft)
    assert len(items) == 250
    assert all(
        i["attendees"][0]["emailAddress"]["address"] == "carol@fabrikam.example" for i in items
    )


async def test_subscriptions_listing_and_expiry(microsoft, graph_receiver):
    expiry = (datetime.fromtimestamp(microsoft.clock(), UTC) + timedelta(days=2)).isoformat()
    status, sub, _ = await microsoft.call(
        "POST",
        "/v1.0/subscriptions",
        json={
            "changeType": "updated",
            "notificationUrl": graph_receiver.url,
            "resource": "me/events",
            "expirationDateTime": expiry,
        },
    )
    assert status == 201
    listed = await microsoft.control("GET", "/_sandbox/subscriptions")
    assert [(s["id"], s["userEmail"]) for s in listed["value"]] == [(sub["id"], microsoft.email)]
    assert await microsoft.control("POST", "/_sandbox/subscriptions/expire", json={}) == {
        "expired": 1
    }
    _, mine, _ = await microsoft.call("GET", "/v1.0/subscriptions")
    assert mine["value"] == []


async def test_control_errors_are_json(microsoft):
    async with microsoft.http.post(
        microsoft.url + "/_sandbox/users/nobody@x.example/events", json=INVITE
    ) as resp:
        assert resp.status == 404 and "error" in await resp.json()
    async with microsoft.http.post(microsoft.url + "/_sandbox/users", json={}) as resp:
        assert resp.status == 400 and "error" in await resp.json()
    async with microsoft.http.post(
        microsoft.url + f"/_sandbox/users/{microsoft.email}/events", json={"subject": "x"}
    ) as resp:
        body = await resp.json()
        assert resp.status == 400 and body["code"] == "ErrorInvalidRequest"
