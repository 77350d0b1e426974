"""calendarView delta over real HTTP: paging with odata.maxpagesize, deltaLink rounds that return
exactly the changes, @removed deletions, 410 SyncStateNotFound for dead tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from yarl import URL

from sandboxes.microsoft.timefmt import dttz

DAY = timedelta(days=1)


def _window(harness) -> tuple[str, str]:
    now = datetime.fromtimestamp(harness.clock(), UTC)
    return (now - 30 * DAY).isoformat(), (now + 365 * DAY).isoformat()


def _event(harness, subject: str, days: int, **extra) -> dict:
    start = datetime.fromtimestamp(harness.clock(), UTC).replace(minute=0, second=0) + days * DAY
    return {
        "subject": subject,
        "start": dttz(start),
        "end": dttz(start + timedelta(hours=1)),
        **extra,
    }


async def _full_round(harness, page_size: int, path: str = "/v1.0/me/calendarView/delta"):
    """Follow a round from the first request to the deltaLink: (pages, deltaLink)."""
    start, end = _window(harness)
    headers = {"Prefer": f"odata.maxpagesize={page_size}"}
    status, body, resp = await harness.call(
        "GET", path, params={"startDateTime": start, "endDateTime": end}, headers=headers
    )
    assert status == 200, body
    assert f"odata.maxpagesize={page_size}" in resp.headers["Preference-Applied"]
    pages = [body]
    while "@odata.nextLink" in body:
        assert "@odata.deltaLink" not in body
        status, body, _ = await harness.call("GET", body["@odata.nextLink"], headers=headers)
        assert status == 200
        pages.append(body)
    return pages, body["@odata.deltaLink"]


async def _follow(harness, link: str) -> tuple[list[dict], str]:
    items: list[dict] = []
    while True:
        status, body, _ = await harness.call("GET", link)
        assert status == 200, body
        items.extend(body["value"])
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"]
        link = body["@odata.nextLink"]


async def test_initial_round_pages_by_maxpagesize_and_ends_with_delta_link(microsoft):
    for n in range(7):
        microsoft.sandbox.create_event(microsoft.email, _event(microsoft, f"E{n}", n + 1))
    pages, delta_link = await _full_round(microsoft, page_size=3)
    assert [len(p["value"]) for p in pages] == [3, 3, 1]
    assert "$skiptoken=" in pages[0]["@odata.nextLink"]
    assert URL(pages[0]["@odata.nextLink"]).path == "/v1.0/me/calendarView/delta"
    assert "$deltatoken=" in delta_link
    subjects = [e["subject"] for p in pages for e in p["value"]]
    assert subjects == [f"E{n}" for n in range(7)]  # ordered by start
    first = pages[0]["value"][0]
    assert first["@odata.etag"] == f'W/"{first["changeKey"]}"'
    assert first["type"] == "singleInstance" and first["start"]["timeZone"] == "UTC"
    assert len(first["start"]["dateTime"].split(".")[1]) == 7


async def test_delta_link_returns_exactly_the_change_then_nothing(microsoft):
    ids = [
        microsoft.sandbox.create_event(microsoft.email, _event(microsoft, f"E{n}", n + 1))["id"]
        for n in range(5)
    ]
    _, delta_link = await _full_round(microsoft, page_size=2)
    status, _, _ = await microsoft.call(
        "PATCH", f"/v1.0/me/events/{ids[2]}", json={"subject": "Moved"}
    )
    assert status == 200
    items, delta_link = await _follow(microsoft, delta_link)
    assert [(i["id"], i["subject"]) for i in items] == [(ids[2], "Moved")]
    items, _ = await _follow(microsoft, delta_link)
    assert items == []


async def test_created_and_deleted_events_arrive_as_new_and_removed(microsoft):
    doomed = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Doomed", 2))
    _, delta_link = await _full_round(microsoft, page_size=10)
    fresh = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Fresh", 3))
    status, _, _ = await microsoft.call("DELETE", f"/v1.0/me/events/{doomed['id']}")
    assert status == 204
    items, _ = await _follow(microsoft, delta_link)
    assert {
        "@odata.type": "#microsoft.graph.event",
        "id": doomed["id"],
        "@removed": {"reason": "deleted"},
    } in items
    assert [i["subject"] for i in items if "@removed" not in i] == ["Fresh"]
    assert fresh["id"] in [i["id"] for i in items]


async def test_outlook_side_changes_bump_change_key_and_show_up(microsoft):
    event = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Call", 1))
    _, delta_link = await _full_round(microsoft, page_size=10)
    await microsoft.control(
        "POST", f"/_sandbox/users/{microsoft.email}/events/{event['id']}/private", json={}
    )
    items, _ = await _follow(microsoft, delta_link)
    assert len(items) == 1 and items[0]["sensitivity"] == "private"
    assert items[0]["changeKey"] != event["changeKey"]
    assert items[0]["lastModifiedDateTime"] >= event["lastModifiedDateTime"]


async def test_retrying_a_next_link_returns_the_same_page(microsoft):
    for n in range(4):
        microsoft.sandbox.create_event(microsoft.email, _event(microsoft, f"E{n}", n + 1))
    pages, _ = await _full_round(microsoft, page_size=2)
    headers = {"Prefer": "odata.maxpagesize=2"}
    start, end = _window(microsoft)
    _, first, _ = await microsoft.call(
        "GET",
        "/v1.0/me/calendarView/delta",
        headers=headers,
        params={"startDateTime": start, "endDateTime": end},
    )
    _, once, _ = await microsoft.call("GET", first["@odata.nextLink"], headers=headers)
    _, twice, _ = await microsoft.call("GET", first["@odata.nextLink"], headers=headers)
    assert [e["id"] for e in once["value"]] == [e["id"] for e in twice["value"]]
    assert [e["id"] for e in once["value"]] == [e["id"] for e in pages[1]["value"]]


async def test_invalidated_delta_token_answers_410_sync_state_not_found(microsoft):
    microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "A", 1))
    _, delta_link = await _full_round(microsoft, page_size=10)
    result = await microsoft.control(
        "POST", "/_sandbox/delta/invalidate", json={"email": microsoft.email}
    )
    assert result["invalidated"] >= 1
    status, body, _ = await microsoft.call("GET", delta_link)
    assert status == 410
    assert body["error"]["code"] == "SyncStateNotFound"
    assert set(body["error"]["innerError"]) == {"date", "request-id", "client-request-id"}


async def test_unknown_tokens_answer_410(microsoft):
    for query in ("$deltatoken=bogus", "$skiptoken=bogus"):
        status, body, _ = await microsoft.call("GET", f"/v1.0/me/calendarView/delta?{query}")
        assert status == 410 and body["error"]["code"] == "SyncStateNotFound"


async def test_window_is_required(microsoft):
    status, body, _ = await microsoft.call("GET", "/v1.0/me/calendarView/delta")
    assert status == 400 and body["error"]["code"] == "ErrorInvalidParameter"


async def test_default_page_size_applies_without_prefer(microsoft):
    microsoft.sandbox.bulk_load(microsoft.email, 25, span_days=30)
    start, end = _window(microsoft)
    _, body, resp = await microsoft.call(
        "GET", "/v1.0/me/calendarView/delta", params={"startDateTime": start, "endDateTime": end}
    )
    assert len(body["value"]) == 10 and "@odata.nextLink" in body
    assert "odata.maxpagesize" not in resp.headers.get("Preference-Applied", "")


async def test_secondary_calendar_is_tracked_separately(microsoft):
    calendar = await microsoft.control(
        "POST", f"/_sandbox/users/{microsoft.email}/calendars", json={"name": "Birthdays"}
    )
    microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Primary", 1))
    microsoft.sandbox.create_event(
        microsoft.email, _event(microsoft, "Secondary", 1), calendar["id"]
    )
    primary, _ = await _full_round(microsoft, page_size=10)
    assert [e["subject"] for e in primary[0]["value"]] == ["Primary"]
    path = f"/v1.0/me/calendars/{calendar['id']}/calendarView/delta"
    secondary, delta_link = await _full_round(microsoft, page_size=10, path=path)
    assert [e["subject"] for e in secondary[0]["value"]] == ["Secondary"]
    assert URL(delta_link).path == path


async def test_events_outside_the_window_are_not_in_the_round(microsoft):
    microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Far past", -400))
    microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Soon", 1))
    pages, _ = await _full_round(microsoft, page_size=10)
    assert [e["subject"] for e in pages[0]["value"]] == ["Soon"]


async def test_prefer_outlook_timezone_converts_times(microsoft):
    microsoft.sandbox.create_event(
        microsoft.email,
        {
            "subject": "Standup",
            "start": {"dateTime": "2026-09-22T09:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-09-22T09:15:00", "timeZone": "Pacific Standard Time"},
        },
    )
    start, end = _window(microsoft)
    _, body, resp = await microsoft.call(
        "GET",
        "/v1.0/me/calendarView/delta",
        params={"startDateTime": start, "endDateTime": end},
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )
    event = body["value"][0]
    assert event["start"] == {
        "dateTime": "2026-09-22T09:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert 'outlook.timezone="Pacific Standard Time"' in resp.headers["Preference-Applied"]
    _, utc, _ = await microsoft.call("GET", f"/v1.0/me/events/{event['id']}")
    assert utc["start"] == {"dateTime": "2026-09-22T16:00:00.0000000", "timeZone": "UTC"}
    assert utc["originalStartTimeZone"] == "Pacific Standard Time"


async def test_event_moved_out_of_the_window_is_removed_and_back_in_is_new(microsoft):
    event = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Mover", 2))
    _, delta_link = await _full_round(microsoft, page_size=10)
    far = _event(microsoft, "Mover", 800)
    await microsoft.call(
        "PATCH", f"/v1.0/me/events/{event['id']}", json={"start": far["start"], "end": far["end"]}
    )
    items, delta_link = await _follow(microsoft, delta_link)
    assert items == [
        {
            "@odata.type": "#microsoft.graph.event",
            "id": event["id"],
            "@removed": {"reason": "deleted"},
        }
    ]
    near = _event(microsoft, "Mover", 3)
    await microsoft.call(
        "PATCH", f"/v1.0/me/events/{event['id']}", json={"start": near["start"], "end": near["end"]}
    )
    items, _ = await _follow(microsoft, delta_link)
    assert [(i["id"], i["subject"]) for i in items] == [(event["id"], "Mover")]


async def test_several_changes_to_one_event_arrive_once_in_their_latest_state(microsoft):
    event = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "v1", 2))
    _, delta_link = await _full_round(microsoft, page_size=10)
    for subject in ("v2", "v3", "v4"):
        microsoft.sandbox.update_event(microsoft.email, event["id"], {"subject": subject})
    items, _ = await _follow(microsoft, delta_link)
    assert [i["subject"] for i in items] == ["v4"]


async def test_single_event_turned_into_a_series(microsoft):
    event = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Becomes weekly", 1))
    _, delta_link = await _full_round(microsoft, page_size=10)
    start_date = event["start"]["dateTime"][:10]
    await microsoft.call(
        "PATCH",
        f"/v1.0/me/events/{event['id']}",
        json={
            "recurrence": {
                "pattern": {"type": "weekly", "daysOfWeek": [], "interval": 1},
                "range": {"type": "numbered", "startDate": start_date, "numberOfOccurrences": 3},
            }
        },
    )
    items, _ = await _follow(microsoft, delta_link)
    removed = [i for i in items if "@removed" in i]
    added = [i for i in items if "@removed" not in i]
    assert [r["id"] for r in removed] == [event["id"]]
    assert [a["type"] for a in added] == ["occurrence"] * 3
    assert {a["seriesMasterId"] for a in added} == {event["id"]}


async def test_an_older_delta_link_can_be_replayed(microsoft):
    event = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "A", 1))
    _, old_link = await _full_round(microsoft, page_size=10)
    microsoft.sandbox.update_event(microsoft.email, event["id"], {"subject": "B"})
    first, _ = await _follow(microsoft, old_link)
    again, _ = await _follow(microsoft, old_link)
    assert [i["subject"] for i in first] == [i["subject"] for i in again] == ["B"]


async def test_evicted_sync_states_answer_410(microsoft):
    microsoft.sandbox.delta.max_states = 2  # Outlook's token cache, made tiny
    microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "A", 1))
    _, oldest = await _full_round(microsoft, page_size=10)
    await _full_round(microsoft, page_size=10)
    _, newest = await _full_round(microsoft, page_size=10)
    assert (await microsoft.call("GET", oldest))[0] == 410
    assert (await microsoft.call("GET", newest))[0] == 200


async def test_another_users_delta_token_is_not_usable(microsoft):
    microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Private to Alice", 1))
    _, delta_link = await _full_round(microsoft, page_size=10)
    bob = microsoft.sandbox.issue_access_token("bob@fabrikam.example")
    status, body, _ = await microsoft.call("GET", delta_link, token=bob)
    assert status == 410 and body["error"]["code"] == "SyncStateNotFound"


async def test_a_second_full_round_serves_current_versions(microsoft):
    event = microsoft.sandbox.create_event(microsoft.email, _event(microsoft, "Before", 1))
    pages, _ = await _full_round(microsoft, page_size=10)
    assert pages[0]["value"][0]["subject"] == "Before"
    microsoft.sandbox.update_event(microsoft.email, event["id"], {"subject": "After"})
    pages, _ = await _full_round(microsoft, page_size=10)
    assert [e["subject"] for e in pages[0]["value"]] == ["After"]


async def test_page_size_above_the_maximum_is_capped(microsoft):
    microsoft.sandbox.bulk_load(microsoft.email, 1005, span_days=60)
    start, end = _window(microsoft)
    _, body, resp = await microsoft.call(
        "GET",
        "/v1.0/me/calendarView/delta",
        params={"startDateTime": start, "endDateTime": end},
        headers={"Prefer": "odata.maxpagesize=5000"},
    )
    assert len(body["value"]) == 1000 and "@odata.nextLink" in body
    assert "odata.maxpagesize=1000" in resp.headers["Preference-Applied"]
