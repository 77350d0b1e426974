"""The convergence oracle: which meetings must be on which contact timelines, from scratch.

API (stable; later changes are additive only — other branches import it):

- ``Entry = tuple[str, str]``: (contact's primary email, meeting key). The meeting key is the
  provider event id the engine upserts by within a connection (Google event / instance id;
  Graph event id, a series under its seriesMasterId).
- ``await listed_events(sandboxes, provider, owner, window_start=...) -> list[ProviderEvent]``:
  the calendar's final state, read as ONE from-scratch full listing of the primary calendar
  through the production wire client (a freshly minted sandbox token, no stored cursor).
  Clear the sandbox's faults first: the listing goes through its fault middleware.
- ``await listed_caldav_events(calendar_url, username, password) -> list[ProviderEvent]``:
  the same for a CalDAV calendar: one from-scratch full round of the production client
  (sync-collection with no token, calendar-multiget, `sync/providers/caldav/parse.py`).
- ``await load_oracle_context(db, account_id, calendar_email=..., linked_at=...,
  excluded_domains=...) -> OracleContext``: the account as the rules see it (contacts'
  addresses, internal domains, users, the calendar owner), read with the oracle's own SQL.
- ``expected_timelines(events, context, *, frozen=None) -> set[Entry]``: the rules
  (`sync.rules.decide`, `is_member`, `participants`) applied to every listed event as if
  nothing had been stored before; a cancelled occurrence (rule 6) gets the contacts its
  series' decision gives (none when the series is not logged, or frozen). `frozen` maps the
  key of a meeting that turned private after it was logged to the contact ids on it when it
  froze (rule 7): those entries are expected whatever the event looks like now, for the
  contacts that still exist. A series is frozen with its weeks: the caller records the
  cancelled weeks a series had when it froze under their own keys; a week of a frozen
  series not recorded (cancelled later) is expected on no timeline.
- ``await actual_timelines(db, account_id) -> set[Entry]``: what the database has (live
  provider meetings only; CRM-scheduled meetings and meetings deleted in Chronik are left out).
- ``await duplicate_problems(db, account_id) -> list[str]``: empty when nothing is duplicated:
  no two meetings of a connection for one provider event (by id, by a Graph series'
  alternative id, or by iCalUID + occurrence), no two entries per contact and meeting, no
  entry left on a cancelled meeting (a cancelled week of a series, rule 6, excepted).

What "expected" means (and why it is not simply "replay the history"):
the engine applies rules to changes it sees, so a few outcomes depend on WHEN it saw them.
The oracle defines the state a from-scratch full sync of the final calendar must produce:

1. Contacts created after an event's last change. The product does not backfill: an
   incremental sync only re-decides events that changed, so a contact created later is not
   put on an unchanged past meeting. A full resync (410 cursor expiry, or a new link) re-reads
   every event and does put it there. The oracle gives the full-sync answer; callers that
   check an incremental state must tolerate exactly those (contact, event) pairs whose
   contact is newer than the event's last change (see `test_convergence.py`), and the
   cancelled weeks (rule 6) of such a series for that contact, however new the week: a
   week's entries are its series' entry's.
2. Private events (rule 7). Whether an event was logged before it turned private is history,
   not final state: the caller records it in `frozen` (contact ids on it when it froze), and
   with a series the weeks it had cancelled then (frozen with it, whether or not the
   provider marks them private). A private event not in `frozen` is expected on no timeline.
3. Everything else — cancellations, restores, moves, guests added/removed, responses,
   recurring series with changed and cancelled occurrences, contacts deleted, internal and
   excluded guests, events created before linking — follows from the final state alone.

The oracle shares the provider parsers (`sync/*/parse.py`, via the wire client) and the pure
rules with the product; it never touches the engine's incremental machinery (cursors, stored
meetings, unseen-meeting reconciliation), which is what it checks. A parser's view of the
calendar is therefore trusted. For Graph that view holds a series as its master (the SERIES
item, read by the client for every series with an instance in the listing) plus its instances,
so moving, answering or cancelling any occurrence, the first included, leaves the series
meeting in place, as rule 6 wants. A cancelled occurrence is in the listing too (Google lists
it with `status: cancelled`; Graph names it in its master's `cancelledOccurrences`, which the
client reads with the master), so its week is expected on the series' contacts' timelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from sync.credentials import StaticToken
from sync.model import EventKind, ProviderEvent
from sync.provider import CalendarClient
from sync.providers.caldav.client import CalDavClient
from sync.providers.caldav.session import BasicCredentials
from sync.providers.google.client import GoogleCalendarClient
from sync.providers.microsoft.client import GraphCalendarClient
from sync.rules import AccountContext, Action, decide
from tests.support.sandboxes import Sandboxes

Entry = tuple[str, str]  # (contact primary email, meeting key = provider event id)

# The engine's Graph window starts this long before linking (sync.engine.WINDOW_BEFORE_LINK).
DEFAULT_WINDOW_BEFORE = timedelta(days=30)
MAX_PAGES = 10_000


@dataclass(frozen=True)
class OracleContext:
    rules: AccountContext
    # Each live contact's primary address: entries are named by it.
    primary_email_by_contact: Mapping[int, str]


async def listed_events(
    sandboxes: Sandboxes,
    provider: str,
    owner: str,
    *,
    window_start: datetime,
) -> list[ProviderEvent]:
    """The primary calendar of `owner`, listed once from scratch (every page of a full round)."""
    async with aiohttp.ClientSession() as http:
        client = _client(sandboxes, provider.upper(), owner, http)
        events: list[ProviderEvent] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.fetch_changes(cursor, window_start=window_start)
            events.extend(page.events)
            cursor = page.cursor
            if page.complete:
                return events
    raise AssertionError("the sandbox listing never completed")


async def listed_caldav_events(
    calendar_url: str, username: str, password: str, *, owner: str
) -> list[ProviderEvent]:
    """A CalDAV calendar listed once from scratch: every page of a full round."""
    connector = aiohttp.TCPConnector(ssl=False)  # the test servers' certificates are their own
    async with aiohttp.ClientSession(connector=connector) as http:
        client = CalDavClient(
            http,
            calendar_url=calendar_url,
            credentials=BasicCredentials(username, password),
            owner_email=owner,
        )
        events: list[ProviderEvent] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.fetch_changes(cursor, window_start=datetime.now(UTC))
            events.extend(page.events)
            cursor = page.cursor
            if page.complete:
                return events
    raise AssertionError("the CalDAV listing never completed")


def _client(
    sandboxes: Sandboxes, provider: str, owner: str, http: aiohttp.ClientSession
) -> CalendarClient:
    if provider == "GOOGLE":
        token = sandboxes.google.oauth.issue_access_token(
            owner, "sandbox", "https://www.googleapis.com/auth/calendar"
        )
        return GoogleCalendarClient(http, sandboxes.google_url, StaticToken(token))
    token = sandboxes.microsoft.issue_access_token(owner)
    return GraphCalendarClient(http, sandboxes.microsoft_url, StaticToken(token))


async def load_oracle_context(
    db: asyncpg.Connection,
    account_id: int,
    *,
    calendar_email: str,
    linked_at: datetime,
    excluded_domains: Iterable[str] = (),
) -> OracleContext:
    """The account's contacts, internal domains and members, straight from the tables."""
    emails = await db.fetch(
        "SELECT email, contact_id, is_primary FROM contact_emails WHERE account_id = $1",
        account_id,
    )
    domains = await db.fetch("SELECT domain FROM account_domains WHERE account_id = $1", account_id)
    users = await db.fetch("SELECT email FROM users WHERE account_id = $1", account_id)
    auto = await db.fetchval("SELECT auto_create_contacts FROM accounts WHERE id = $1", account_id)
    rules = AccountContext(
        contact_ids_by_email={r["email"]: r["contact_id"] for r in emails},
        internal_domains=frozenset(r["domain"] for r in domains),
        member_emails=frozenset([*(r["email"] for r in users), calendar_email.lower()]),
        excluded_domains=frozenset(d.lower() for d in excluded_domains),
        linked_at=linked_at.astimezone(UTC),
        auto_create_contacts=bool(auto),
    )
    primary = {r["contact_id"]: r["email"] for r in emails if r["is_primary"]}
    return OracleContext(rules, primary)


def expected_timelines(
    events: Iterable[ProviderEvent],
    context: OracleContext,
    *,
    frozen: Mapping[str, frozenset[int]] | None = None,
) -> set[Entry]:
    """Every (contact, meeting) the final calendar must produce; see the module docstring."""
    frozen = frozen or {}
    names = context.primary_email_by_contact
    expected: set[Entry] = set()
    events = list(events)
    # Rule 6: a cancelled week goes on the timelines of its series' contacts, so every series
    # is decided first (a frozen one logs no new week: its decision now is "private").
    series_contacts: dict[str, frozenset[int]] = {}
    for event in events:
        if event.kind is EventKind.SERIES and event.provider_event_id not in frozen:
            decision = decide(event, context.rules, None)
            if decision.action is Action.UPSERT:
                series_contacts[event.provider_event_id] = decision.contact_ids
    for event in events:
        key = event.provider_event_id
        if key in frozen:
            continue
        # Nothing stored: this is what a first full sync of the final calendar decides.
        of_series = series_contacts.get(event.series_id or "", frozenset())
        series_frozen = event.kind is not EventKind.SERIES and event.series_id in frozen
        decision = decide(event, context.rules, None, of_series, series_frozen)
        if decision.action is Action.UPSERT:
            expected.update((names[c], key) for c in decision.contact_ids if c in names)
    for key, contact_ids in frozen.items():
        expected.update((names[c], key) for c in contact_ids if c in names)
    return expected


async def actual_timelines(db: asyncpg.Connection, account_id: int) -> set[Entry]:
    """The timeline entries of the account's provider meetings, as oracle entries."""
    rows = await db.fetch(
        """
        SELECT ce.email, m.provider_event_id
        FROM timeline_entries t
        JOIN meetings m ON m.id = t.meeting_id
        JOIN contact_emails ce ON ce.contact_id = t.contact_id AND ce.is_primary
        WHERE t.account_id = $1 AND m.source <> 'crm' AND m.deleted_at IS NULL
        """,
        account_id,
    )
    return {(r["email"], r["provider_event_id"]) for r in rows}


async def duplicate_problems(db: asyncpg.Connection, account_id: int) -> list[str]:
    """Human-readable duplicates (empty when there are none); see the module docstring."""
    problems: list[str] = []
    for row in await db.fetch(
        """
        SELECT connection_id, provider_event_id, count(*) AS n FROM meetings
        WHERE account_id = $1 AND source <> 'crm'
        GROUP BY connection_id, provider_event_id HAVING count(*) > 1
        """,
        account_id,
    ):
        problems.append(f"{row['n']} meetings for provider event {row['provider_event_id']}")
    for row in await db.fetch(
        """
        SELECT a.provider_event_id AS one, b.provider_event_id AS other FROM meetings a
        JOIN meetings b ON b.connection_id = a.connection_id
                       AND b.provider_event_id = a.provider_alt_id AND b.id <> a.id
        WHERE a.account_id = $1 AND a.status <> 'cancelled' AND b.status <> 'cancelled'
        """,
        account_id,
    ):
        problems.append(f"meeting {row['one']} is also stored as {row['other']}")
    for row in await db.fetch(
        """
        SELECT ical_uid, occurrence AS original_start, array_agg(provider_event_id) AS ids
        FROM (
            SELECT connection_id, ical_uid, provider_event_id,
                   CASE WHEN kind = 'series' THEN NULL ELSE original_start END AS occurrence
            FROM meetings
            WHERE account_id = $1 AND source <> 'crm' AND status <> 'cancelled'
              AND deleted_at IS NULL AND ical_uid IS NOT NULL
        ) live
        GROUP BY connection_id, ical_uid, occurrence
        HAVING count(*) > 1
        """,
        account_id,
    ):
        problems.append(
            f"one occurrence ({row['ical_uid']} at {row['original_start']}) stored as "
            f"{sorted(row['ids'])}"
        )
    for row in await db.fetch(
        """
        SELECT contact_id, meeting_id, count(*) AS n FROM timeline_entries
        WHERE account_id = $1 GROUP BY contact_id, meeting_id HAVING count(*) > 1
        """,
        account_id,
    ):
        problems.append(f"{row['n']} entries of meeting {row['meeting_id']} for one contact")
    for row in await db.fetch(
        """
        SELECT m.provider_event_id, count(*) AS n FROM timeline_entries t
        JOIN meetings m ON m.id = t.meeting_id
        WHERE t.account_id = $1 AND m.status = 'cancelled' AND NOT m.cancelled_week
        GROUP BY m.provider_event_id
        """,
        account_id,
    ):
        problems.append(f"{row['n']} entries left on cancelled meeting {row['provider_event_id']}")
    return problems


def default_window_start(linked_at: datetime) -> datetime:
    """The window the engine lists a Graph calendar in (Google ignores it)."""
    return min(linked_at, datetime.now(UTC)) - DEFAULT_WINDOW_BEFORE
