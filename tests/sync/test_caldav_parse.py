"""CalDAV resources as the engine and the seed's rules see them: iCalendar shapes real calendar
apps write (no server needed), and what `sync.rules.decide` makes of the parsed events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.http import ProviderResponse
from sync.model import EventKind, EventStatus, ProviderEvent
from sync.provider import EventDraft
from sync.providers.caldav import discovery
from sync.providers.caldav.client import FeedCursor
from sync.providers.caldav.parse import (
    CalendarDataError,
    draft_applied,
    new_calendar,
    parse_calendar,
    parse_resource,
    serialize,
)
from sync.providers.caldav.wire import parse_multistatus
from sync.rules import AccountContext, Action, Reason, Stored, decide

LINKED_AT = datetime(2026, 11, 1, tzinfo=UTC)


def ics(*components: str) -> str:
    body = "".join(components)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n{body}END:VCALENDAR\n".replace(
        "\n", "\r\n"
    )


def vevent(lines: str, uid: str = "u1") -> str:
    return f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20261201T080000Z\n{lines}\nEND:VEVENT\n"


def one(lines: str) -> ProviderEvent:
    [event] = parse_resource("e.ics", '"1"', ics(vevent(lines)))
    return event


def test_floating_times_are_read_as_utc_without_a_zone() -> None:
    event = one("DTSTART:20261207T100000\nDTEND:20261207T110000")
    assert event.starts_at == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert event.time_zone is None


def test_duration_instead_of_an_end() -> None:
    event = one("DTSTART:20261207T100000Z\nDURATION:PT45M")
    assert event.ends_at == datetime(2026, 12, 7, 10, 45, tzinfo=UTC)
    assert event.time_zone == "UTC"


def test_an_all_day_event_without_an_end_lasts_its_day() -> None:
    event = one("DTSTART;VALUE=DATE:20261207")
    assert event.all_day
    assert event.ends_at == datetime(2026, 12, 8, tzinfo=UTC)


def test_windows_zone_names_and_custom_zone_definitions() -> None:
    windows = one(
        "DTSTART;TZID=W. Europe Standard Time:20261207T100000\n"
        "DTEND;TZID=W. Europe Standard Time:20261207T110000"
    )
    assert windows.starts_at == datetime(2026, 12, 7, 9, tzinfo=UTC)
    assert windows.time_zone == "Europe/Berlin"
    custom = ics(
        "BEGIN:VTIMEZONE\nTZID:Customized Time Zone\nBEGIN:STANDARD\nDTSTART:16010101T030000\n"
        "TZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\n"
        "END:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\n"
        "TZOFFSETTO:+0200\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\n"
        "END:VTIMEZONE\n",
        vevent("DTSTART;TZID=Customized Time Zone:20260707T100000\nDURATION:PT1H"),
    )
    [event] = parse_resource("c.ics", None, custom)
    assert event.starts_at == datetime(2026, 7, 7, 8, tzinfo=UTC)  # summer: +02:00


def test_only_mailto_addresses_are_people() -> None:
    event = one(
        "DTSTART:20261207T100000Z\nORGANIZER:urn:uuid:1234\n"
        "ATTENDEE:urn:uuid:5678\nATTENDEE;PARTSTAT=DELEGATED:MAILTO:Bo@Client.test"
    )
    assert event.organizer_email is None
    assert [a.email for a in event.attendees] == ["bo@client.test"]


def test_a_task_list_resource_has_no_events() -> None:
    todo = ics("BEGIN:VTODO\nUID:t\nDTSTAMP:20261201T080000Z\nSUMMARY:Buy milk\nEND:VTODO\n")
    assert parse_resource("t.ics", None, todo) == []


def test_unreadable_data_is_an_error() -> None:
    with pytest.raises(CalendarDataError):
        parse_resource("x.ics", None, "not a calendar")


def test_an_invitation_to_one_occurrence_only_is_a_single_event() -> None:
    lone = ics(
        vevent("RECURRENCE-ID:20261214T090000Z\nDTSTART:20261214T100000Z\nDTEND:20261214T110000Z")
    )
    [event] = parse_resource("o.ics", None, lone)
    assert event.kind is EventKind.SINGLE
    assert event.provider_event_id == "o.ics#20261214T090000Z"


MASTER = (
    "CREATED:20261201T080000Z\nSUMMARY:Standup\nDTSTART;VALUE=DATE:20261207\n"
    "RRULE:FREQ=DAILY;COUNT=10\nEXDATE;VALUE=DATE:20261208,20261209\n"
    "EXDATE;VALUE=DATE:20261210\nORGANIZER:mailto:ana@acme.test\n"
    "ATTENDEE:mailto:carla@client.test"
)
SERIES = ics(
    vevent(MASTER, uid="s"),
    vevent(
        "CREATED:20261201T080000Z\nRECURRENCE-ID;VALUE=DATE:20261210\nSTATUS:CANCELLED\n"
        "DTSTART;VALUE=DATE:20261210\nORGANIZER:mailto:ana@acme.test",
        uid="s",
    ),
    vevent(
        "CREATED:20261201T080000Z\nRECURRENCE-ID;VALUE=DATE:20261211\n"
        "DTSTART;VALUE=DATE:20261212\nSUMMARY:Standup (Saturday)\n"
        "ORGANIZER:mailto:ana@acme.test\nATTENDEE:mailto:dan@client.test",
        uid="s",
    ),
)


def test_every_excluded_and_overridden_day_of_an_all_day_series() -> None:
    events = {e.provider_event_id: e for e in parse_resource("s.ics", '"7"', SERIES)}
    assert {k: (v.kind, v.status) for k, v in events.items()} == {
        "s.ics": (EventKind.SERIES, EventStatus.CONFIRMED),
        "s.ics#20261208": (EventKind.EXCEPTION, EventStatus.CANCELLED),
        "s.ics#20261209": (EventKind.EXCEPTION, EventStatus.CANCELLED),
        # Excluded and overridden as cancelled: listed once, as the override.
        "s.ics#20261210": (EventKind.EXCEPTION, EventStatus.CANCELLED),
        "s.ics#20261211": (EventKind.EXCEPTION, EventStatus.CONFIRMED),
    }
    moved = events["s.ics#20261211"]
    assert moved.original_start == datetime(2026, 12, 11, tzinfo=UTC)
    assert moved.starts_at == datetime(2026, 12, 12, tzinfo=UTC)
    assert all(e.etag == '"7"' for e in events.values())


def test_a_cursor_remembers_occurrences_across_pages() -> None:
    position = FeedCursor(token="t")
    position.remember("s.ics", parse_resource("s.ics", None, SERIES))
    again = FeedCursor.decode(position.encode())
    assert again.occurrences["s.ics"] == [
        "20261208",
        "20261209",
        "20261210",
        "20261211",
    ]


# -- the seed's rules on CalDAV events ---------------------------------------------------------


def context(**contacts: int) -> AccountContext:
    return AccountContext(
        contact_ids_by_email={f"{name}@client.test": cid for name, cid in contacts.items()},
        internal_domains=frozenset({"acme.test"}),
        member_emails=frozenset({"ana@acme.test"}),
        excluded_domains=frozenset(),
        linked_at=LINKED_AT,
    )


MEETING = (
    "CREATED:20261201T080000Z\nSUMMARY:Review\nDTSTART:20261207T100000Z\n"
    "DTEND:20261207T110000Z\nORGANIZER:mailto:ana@acme.test\n"
    "ATTENDEE:mailto:ana@acme.test\nATTENDEE:mailto:carla@client.test"
)


def test_rule_2_a_contact_guest_logs_the_meeting_and_rule_4_members_do_not() -> None:
    decision = decide(one(MEETING), context(carla=7), None)
    assert decision.action is Action.UPSERT
    assert decision.contact_ids == frozenset({7})


def test_rule_5_events_created_before_linking_are_not_synced() -> None:
    old = one(MEETING.replace("CREATED:20261201", "CREATED:20261001"))
    assert decide(old, context(carla=7), None).reason is Reason.BEFORE_LINKING


def test_rule_7_private_and_confidential_are_not_synced() -> None:
    for level in ("PRIVATE", "CONFIDENTIAL"):
        event = one(f"CLASS:{level}\n{MEETING}")
        assert decide(event, context(carla=7), None).reason is Reason.PRIVATE


def test_rule_6_series_once_moved_week_on_its_own_cancelled_week_follows_the_series() -> None:
    ctx = context(carla=7, dan=8)
    events = {e.provider_event_id: e for e in parse_resource("s.ics", None, SERIES)}
    assert decide(events["s.ics"], ctx, None).contact_ids == frozenset({7})
    moved = decide(events["s.ics#20261211"], ctx, None)
    assert moved.reason is Reason.CONTACT_GUESTS and moved.contact_ids == frozenset({8})
    cancelled = decide(events["s.ics#20261208"], ctx, None, frozenset({7}))
    assert cancelled.reason is Reason.CANCELLED_WEEK and cancelled.contact_ids == frozenset({7})


def test_rule_6_a_restored_week_leaves_the_timelines() -> None:
    position = FeedCursor(token="t")
    position.remember("s.ics", parse_resource("s.ics", None, SERIES))
    # The override of the 11th dropped, the 8th and 9th no longer excluded (the 10th still is).
    plain = ics(vevent(MASTER.replace("EXDATE;VALUE=DATE:20261208,20261209\n", ""), uid="s"))
    events = position.remember("s.ics", parse_resource("s.ics", None, plain))
    restored = {e.provider_event_id: e for e in events if e.kind is EventKind.OCCURRENCE}
    assert set(restored) == {"s.ics#20261208", "s.ics#20261209", "s.ics#20261211"}
    stored = Stored(meeting_id=1, frozen=False, cancelled=True)
    assert decide(restored["s.ics#20261208"], context(), stored).action is Action.REMOVE


# -- drafts --------------------------------------------------------------------------------------


def test_a_draft_written_and_read_back_is_the_draft() -> None:
    draft = EventDraft(
        title="Intro; pricing, terms",
        description="Line one\nLine two",
        location="Room 4",
        starts_at=datetime(2026, 12, 9, 15, tzinfo=UTC),
        ends_at=datetime(2026, 12, 9, 15, 30, tzinfo=UTC),
        time_zone="America/Sao_Paulo",
        all_day=False,
        attendees=(("carla@client.test", "Carla, Client"),),
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    calendar = new_calendar(
        draft, uid="x@chronik", owner_email="ana@acme.test", schedule=False, now=now
    )
    data = serialize(calendar)
    assert b"SCHEDULE-AGENT=CLIENT" in data
    assert b"BEGIN:VTIMEZONE" in data
    [event] = parse_calendar("x.ics", None, calendar)
    assert draft_applied(draft, event)
    [reread] = parse_resource("x.ics", None, data)
    assert draft_applied(draft, reread)
    assert reread.time_zone == "America/Sao_Paulo"
    assert reread.created_at == now
    assert draft_applied(draft, reread) and not draft_applied(
        EventDraft(**{**draft.__dict__, "ends_at": draft.ends_at + timedelta(minutes=5)}), reread
    )


# -- WebDAV answers ------------------------------------------------------------------------------

SHARED_HOME = b"""<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <d:response><d:href>/dav/calendars/ana/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/></d:resourcetype></d:prop>
  <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/dav/calendars/ana/team%20shared/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
  <d:current-user-privilege-set><d:privilege><d:read/></d:privilege>
  </d:current-user-privilege-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/dav/calendars/ana/personal/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
  <d:current-user-privilege-set><d:privilege><d:read/></d:privilege>
  <d:privilege><d:write/></d:privilege></d:current-user-privilege-set></d:prop>
  <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/dav/calendars/ana/tasks/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
  <cal:supported-calendar-component-set><cal:comp name="VTODO"/>
  </cal:supported-calendar-component-set></d:prop>
  <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"""


async def test_read_only_shares_and_task_lists_are_no_primary_calendar() -> None:
    home = "https://dav.example.test/dav/calendars/ana/"

    class Canned:
        async def request(self, *args: object, **kwargs: object) -> ProviderResponse:
            return ProviderResponse(207, {}, SHARED_HOME)

    found = await discovery._calendars(Canned(), home)  # type: ignore[arg-type]
    assert [c.url for c in found] == [home + "personal/"]
    names = [r.href for r in parse_multistatus(SHARED_HOME, home).responses]
    assert home + "team%20shared/" in names
