"""Google's batch endpoint on the sandbox, driven by google-api-python-client's own
BatchHttpRequest (the client is built from the shipped discovery document with its rootUrl
pointed at the sandbox, which is also what makes the client find the batch path)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import googleapiclient
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document

from tests.sandboxes.conftest import GoogleHarness


def _service(google: GoogleHarness) -> Any:
    path = Path(googleapiclient.__file__).parent / "discovery_cache/documents/calendar.v3.json"
    document = json.loads(path.read_text())
    document["rootUrl"] = google.url + "/"
    return build_from_document(document, credentials=Credentials(token=google.token))


def _event(summary: str, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": "2026-12-03T10:00:00Z"},
        "end": {"dateTime": "2026-12-03T11:00:00Z"},
        **extra,
    }


async def test_batch_inserts_and_reports_each_result(google: GoogleHarness) -> None:
    service = _service(google)
    results: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: Any) -> None:
        results[request_id] = exception or response

    def run() -> None:
        batch = service.new_batch_http_request(callback=collect)
        batch.add(
            service.events().insert(calendarId="primary", body=_event("one", id="one0001")),
            request_id="a",
        )
        batch.add(service.events().insert(calendarId="primary", body=_event("two")), request_id="b")
        batch.add(
            service.events().insert(calendarId="primary", body=_event("dup", id="one0001")),
            request_id="c",
        )
        batch.add(service.events().get(calendarId="primary", eventId="one0001"), request_id="d")
        batch.execute()

    await asyncio.to_thread(run)
    assert results["a"]["id"] == "one0001"
    assert results["b"]["summary"] == "two"
    assert results["c"].resp.status == 409  # an HttpError for that part only
    assert results["d"]["summary"] == "one"
    _, listing, _ = await google.call("GET", "/calendar/v3/calendars/primary/events")
    assert {item["summary"] for item in listing["items"]} == {"one", "two"}


async def test_batch_without_parts_is_400(google: GoogleHarness) -> None:
    status, body, _ = await google.call(
        "POST",
        "/batch/calendar/v3",
        data=b"",
        headers={"Content-Type": "multipart/mixed; boundary=x"},
    )
    assert status == 400 and body["error"]["code"] == 400
