"""The CalDAV client through a fault proxy in front of the real servers: failing and slow
answers are retried, answers lost after the server acted do not duplicate or fail a write,
an invalidated sync token starts a full round, and servers without sync-collection or
free-busy-query are served by the fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from sync.http import RetryPolicy
from sync.model import CursorExpired, ProviderEvent
from sync.provider import ProviderUnavailable
from sync.providers.caldav.client import CalDavClient, FeedCursor
from sync.providers.caldav.session import BasicCredentials
from tests.support.caldav_servers import (  # noqa: F401 (fixtures)
    CalDavServer,
    FaultProxy,
    caldav_server,
    get_ics,
    http_session,
    is_method,
    is_sync_report,
    make_calendar,
    put_ics,
    radicale_server,
    xandikos_server,
)
from tests.sync.test_caldav_client import SERIES, draft, vevent

WINDOW = datetime(2026, 1, 1, tzinfo=UTC)
# Short backoff and a timeout well under the proxy's stall.
POLICY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=1.0)


@dataclass
class Proxied:
    server: CalDavServer
    http: aiohttp.ClientSession
    url: str  # the calendar, at the server itself
    proxy: FaultProxy
    client: CalDavClient  # talks to the calendar through the proxy

    async def put(self, name: str, ics: str) -> str:
        return await put_ics(self.http, self.server, self.url, name, ics)

    async def delete(self, name: str) -> None:
        async with self.http.delete(self.url + name, headers=self.server.auth_header()) as r:
            assert r.status in (200, 204)

    def statuses(self, method: str) -> list[int]:
        return [status for m, _, status in self.proxy.seen if m == method]


@pytest.fixture
async def proxied(caldav_server: CalDavServer) -> AsyncIterator[Proxied]:  # noqa: F811
    async with http_session() as http:
        url = await make_calendar(http, caldav_server)
        proxy = FaultProxy(caldav_server.url)
        await proxy.start()
        try:
            client = CalDavClient(
                http,
                calendar_url=proxy.rewrite_url(url),
                credentials=BasicCredentials(caldav_server.username, caldav_server.password),
                owner_email=caldav_server.username,
                policy=POLICY,
                page_size=2,
            )
            yield Proxied(caldav_server, http, url, proxy, client)
        finally:
            await proxy.close()


async def whole_round(client: CalDavClient, cursor: str | None) -> tuple[list[ProviderEvent], str]:
    events: list[ProviderEvent] = []
    while True:
        page = await client.fetch_changes(cursor, window_start=WINDOW)
        events += page.events
        cursor = page.cursor
        if page.complete:
            return events, cursor


def call(n: int) -> str:
    return vevent(
        f"call-{n}", f"SUMMARY:Call {n}\nDTSTART:2026120{n}T100000Z\nDTEND:2026120{n}T110000Z"
    )


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_failing_answers_are_retried(proxied: Proxied, status: int) -> None:
    await proxied.put("a.ics", call(1))
    proxied.proxy.fail(status, times=2, when=is_method("REPORT"))
    events, _ = await whole_round(proxied.client, None)
    assert [e.title for e in events] == ["Call 1"]
    assert proxied.statuses("REPORT")[:3] == [status, status, 207]


async def test_a_stalled_answer_is_given_up_on_and_retried(proxied: Proxied) -> None:
    await proxied.put("a.ics", call(1))
    proxied.proxy.stall(3.0, when=is_method("REPORT"))
    events, _ = await whole_round(proxied.client, None)
    assert [e.title for e in events] == ["Call 1"]


async def test_a_server_failing_every_retry_is_unavailable_and_nothing_is_written(
    proxied: Proxied,
) -> None:
    proxied.proxy.fail(503, times=10, when=is_method("PUT"))
    with pytest.raises(ProviderUnavailable):
        await proxied.client.create_event(draft(), idempotency_key="k", send_invitations=True)
    assert proxied.statuses("PUT") == [503, 503, 503]
    events, _ = await whole_round(proxied.client, None)
    assert events == []


async def test_a_create_whose_answer_was_lost_is_not_made_twice(proxied: Proxied) -> None:
    # The server stores the event, the answer never arrives; the retry meets If-None-Match.
    proxied.proxy.lose_answer(when=is_method("PUT"))
    created = await proxied.client.create_event(
        draft(), idempotency_key="k-lost", send_invitations=True
    )
    assert created.title == "Intro call"
    assert proxied.statuses("PUT") == [201, 412]
    events, _ = await whole_round(proxied.client, None)
    assert [e.provider_event_id for e in events] == [created.provider_event_id]


async def test_an_update_whose_answer_was_lost_is_not_a_conflict(proxied: Proxied) -> None:
    created = await proxied.client.create_event(
        draft(), idempotency_key="k-u", send_invitations=True
    )
    proxied.proxy.lose_answer(when=is_method("PUT"))
    updated = await proxied.client.update_event(
        created.provider_event_id, draft(title="Renamed"), etag=created.etag, send_updates=True
    )
    assert updated.title == "Renamed"
    assert proxied.statuses("PUT")[-1] == 412  # the retry met the first attempt's change


@pytest.mark.parametrize("status", [403, 409])
async def test_an_invalidated_sync_token_starts_a_full_round(proxied: Proxied, status: int) -> None:
    await proxied.put("a.ics", call(1))
    _, cursor = await whole_round(proxied.client, None)
    # RFC 6578 §3.2: the DAV:valid-sync-token precondition (servers answer 403 or 409).
    invalid = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'
    )
    proxied.proxy.fail(status, when=is_sync_report, body=invalid)
    with pytest.raises(CursorExpired):
        await proxied.client.fetch_changes(cursor, window_start=WINDOW)
    events, _ = await whole_round(proxied.client, None)
    assert [e.title for e in events] == ["Call 1"]


async def test_without_sync_collection_the_etags_are_compared(proxied: Proxied) -> None:
    proxied.proxy.refuse_always(is_sync_report, 501)
    await proxied.put("keep.ics", call(1))
    await proxied.put("edit.ics", call(2))
    await proxied.put("gone.ics", call(3))
    events, cursor = await whole_round(proxied.client, None)
    assert sorted(e.title or "" for e in events) == ["Call 1", "Call 2", "Call 3"]
    assert FeedCursor.decode(cursor).mode == "etag"

    # Nothing changed: the ctag says so (Radicale and Xandikos both keep one), in one request.
    before = len(proxied.proxy.seen)
    nothing, cursor = await whole_round(proxied.client, cursor)
    assert nothing == []
    assert [m for m, _, _ in proxied.proxy.seen[before:]] == ["PROPFIND"]

    await proxied.put("edit.ics", call(2).replace("Call 2", "Call 2 moved"))
    await proxied.delete("gone.ics")
    changes, cursor = await whole_round(proxied.client, cursor)
    assert {(e.provider_event_id, e.removed, e.title) for e in changes} == {
        ("edit.ics", False, "Call 2 moved"),
        ("gone.ics", True, None),
    }
    # Series memory works the same way without sync-collection.
    await proxied.put("weekly.ics", SERIES)
    changes, cursor = await whole_round(proxied.client, cursor)
    assert len(changes) == 3
    await proxied.delete("weekly.ics")
    changes, _ = await whole_round(proxied.client, cursor)
    assert len([e for e in changes if e.removed]) == 3


async def test_without_free_busy_query_busy_time_comes_from_the_events(proxied: Proxied) -> None:
    await proxied.put("weekly.ics", SERIES)
    await proxied.put(
        "free.ics",
        vevent("free", "TRANSP:TRANSPARENT\nDTSTART:20261214T150000Z\nDTEND:20261214T170000Z"),
    )
    await proxied.put(
        "off.ics",
        vevent("off", "STATUS:CANCELLED\nDTSTART:20261215T150000Z\nDTEND:20261215T170000Z"),
    )
    start = datetime(2026, 12, 13, tzinfo=UTC)
    end = start + timedelta(days=9)
    served = await proxied.client.free_busy(start, end)
    proxied.proxy.refuse_always(lambda r, b: b"free-busy-query" in b, 501)
    computed = await proxied.client.free_busy(start, end)
    assert (
        computed
        == served
        == [
            (datetime(2026, 12, 14, 16, 0, tzinfo=UTC), datetime(2026, 12, 14, 16, 30, tzinfo=UTC)),
        ]
    )
    status, _ = await get_ics(proxied.http, proxied.server, proxied.url, "weekly.ics")
    assert status == 200


async def test_a_truncated_sync_answer_is_continued_from_its_token(proxied: Proxied) -> None:
    """RFC 6578 §3.6: a server may answer part of the changes, marking the collection itself
    507; the client asks again with the token it got, and the round completes only then."""
    await proxied.put("a.ics", call(1))
    _, cursor = await whole_round(proxied.client, None)
    await proxied.put("b.ics", call(2))
    collection = proxied.proxy.rewrite_url(proxied.url)[len(proxied.proxy.url) - 1 :]
    truncated = (
        f'<D:response xmlns:D="DAV:"><D:href>{collection}</D:href>'
        "<D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>"
    ).encode()
    marked: list[bool] = []

    def truncate_once(answer: bytes) -> bytes:
        if marked:
            return answer
        marked.append(True)
        head, _, tail = answer.rpartition(b"</")
        return head + truncated + b"</" + tail

    proxied.proxy.rewrite_answer(is_sync_report, truncate_once)
    first = await proxied.client.fetch_changes(cursor, window_start=WINDOW)
    assert [e.title for e in first.events] == ["Call 2"]
    assert not first.complete
    reports = len(proxied.statuses("REPORT"))
    rest = await proxied.client.fetch_changes(first.cursor, window_start=WINDOW)
    assert rest.complete and rest.events == []
    assert len(proxied.statuses("REPORT")) == reports + 1  # the sync-collection asked again
