"""Drive a sandbox calendar the way its owner would in Google Calendar or Outlook.

One interface for both providers, so every sync test runs against both sandboxes through
their control APIs (over HTTP, in the providers' own wire formats).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SandboxCalendar:
    provider: str

    def __init__(self, http: httpx.AsyncClient, base_url: str, owner: str) -> None:
        self.http = http
        self.base = f"{base_url}/_sandbox"
        self.owner = owner

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"{self.base}/{path}", json=body)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    async def create(
        self,
        *,
        title: str,
        start: datetime,
        guests: list[str],
        hours: float = 1,
        organizer: str | None = None,
        all_day: bool = False,
        weekly: int | None = None,
        secondary: bool = False,
    ) -> str:
        raise NotImplementedError

    async def update(
        self,
        event_id: str,
        *,
        title: str | None = None,
        start: datetime | None = None,
        guests: list[str] | None = None,
    ) -> None:
        raise NotImplementedError

    async def cancel(self, event_id: str) -> None:
        raise NotImplementedError

    async def delete(self, event_id: str) -> None:
        raise NotImplementedError

    async def make_private(self, event_id: str) -> None:
        raise NotImplementedError

    async def respond(self, event_id: str, email: str, accepted: bool) -> None:
        raise NotImplementedError

    async def move_occurrence(self, series_id: str, original: datetime, start: datetime) -> None:
        raise NotImplementedError

    async def cancel_occurrence(self, series_id: str, original: datetime) -> None:
        raise NotImplementedError

    async def restore_occurrence(self, series_id: str, original: datetime) -> None:
        """The organizer undoes the cancellation of one occurrence."""
        raise NotImplementedError

    async def expire_cursor(self) -> None:
        raise NotImplementedError


class GoogleCalendar(SandboxCalendar):
    provider = "GOOGLE"

    def _path(self, rest: str = "") -> str:
        return f"calendars/{self.owner}/events{rest}"

    async def create(
        self,
        *,
        title,
        start,
        guests,
        hours=1,
        organizer=None,
        all_day=False,
        weekly=None,
        secondary=False,
    ) -> str:  # type: ignore[no-untyped-def]
        end = start + timedelta(hours=hours)
        body: dict[str, Any] = {
            "summary": title,
            "attendees": [{"email": g} for g in guests],
        }
        if all_day:
            body["start"] = {"date": start.date().isoformat()}
            body["end"] = {"date": (start.date() + timedelta(days=1)).isoformat()}
        else:
            body["start"] = {"dateTime": _utc(start), "timeZone": "Europe/Berlin"}
            body["end"] = {"dateTime": _utc(end), "timeZone": "Europe/Berlin"}
        if organizer:
            body["organizer"] = {"email": organizer}
        if weekly:
            body["recurrence"] = [f"RRULE:FREQ=WEEKLY;COUNT={weekly}"]
        calendar = self.owner
        if secondary:
            made = await self._call(
                "POST", f"users/{self.owner}/calendars", {"summary": "Side projects"}
            )
            calendar = made["id"]
        event = await self._call("POST", f"calendars/{calendar}/events", body)
        return str(event["id"])

    async def update(self, event_id, *, title=None, start=None, guests=None) -> None:  # type: ignore[no-untyped-def]
        changes: dict[str, Any] = {}
        if title is not None:
            changes["summary"] = title
        if start is not None:
            changes["start"] = {"dateTime": _utc(start), "timeZone": "Europe/Berlin"}
            changes["end"] = {
                "dateTime": _utc(start + timedelta(hours=1)),
                "timeZone": "Europe/Berlin",
            }
        if guests is not None:
            changes["attendees"] = [{"email": g} for g in guests]
        await self._call("PATCH", self._path(f"/{event_id}"), changes)

    async def cancel(self, event_id: str) -> None:
        await self._call("POST", self._path(f"/{event_id}/cancel"), {})

    async def delete(self, event_id: str) -> None:
        await self._call("DELETE", self._path(f"/{event_id}"))

    async def make_private(self, event_id: str) -> None:
        await self._call("POST", self._path(f"/{event_id}/private"), {})

    async def respond(self, event_id: str, email: str, accepted: bool) -> None:
        await self._call(
            "POST",
            self._path(f"/{event_id}/response"),
            {"email": email, "responseStatus": "accepted" if accepted else "declined"},
        )

    async def move_occurrence(self, series_id: str, original: datetime, start: datetime) -> None:
        await self._call(
            "POST",
            self._path(f"/{series_id}/occurrence"),
            {
                "originalStartTime": _utc(original),
                "changes": {
                    "start": {"dateTime": _utc(start)},
                    "end": {"dateTime": _utc(start + timedelta(hours=1))},
                },
            },
        )

    async def cancel_occurrence(self, series_id: str, original: datetime) -> None:
        await self._call(
            "POST",
            self._path(f"/{series_id}/occurrence"),
            {"originalStartTime": _utc(original), "cancel": True},
        )

    async def restore_occurrence(self, series_id: str, original: datetime) -> None:
        await self._call(
            "POST",
            self._path(f"/{series_id}/occurrence"),
            {"originalStartTime": _utc(original), "restore": True},
        )

    async def expire_cursor(self) -> None:
        await self._call("POST", f"calendars/{self.owner}/expire-sync-tokens", {})


def _graph_time(value: datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


class OutlookCalendar(SandboxCalendar):
    provider = "MICROSOFT"

    def _path(self, rest: str = "") -> str:
        return f"users/{self.owner}/events{rest}"

    async def create(
        self,
        *,
        title,
        start,
        guests,
        hours=1,
        organizer=None,
        all_day=False,
        weekly=None,
        secondary=False,
    ) -> str:  # type: ignore[no-untyped-def]
        body: dict[str, Any] = {
            "subject": title,
            "attendees": [{"emailAddress": {"address": g}, "type": "required"} for g in guests],
        }
        if all_day:
            day = start.replace(hour=0, minute=0, second=0, microsecond=0)
            body["isAllDay"] = True
            body["start"], body["end"] = _graph_time(day), _graph_time(day + timedelta(days=1))
        else:
            body["start"] = _graph_time(start)
            body["end"] = _graph_time(start + timedelta(hours=hours))
            body["originalStartTimeZone"] = "W. Europe Standard Time"
        if organizer:
            body["organizer"] = {"emailAddress": {"address": organizer}}
        if weekly:
            body["recurrence"] = {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": [start.strftime("%A").lower()],
                },
                "range": {
                    "type": "numbered",
                    "startDate": start.date().isoformat(),
                    "numberOfOccurrences": weekly,
                },
            }
        if secondary:
            made = await self._call("POST", f"users/{self.owner}/calendars", {"name": "Side"})
            body["calendarId"] = made["id"]
        event = await self._call("POST", self._path(), body)
        return str(event["id"])

    async def update(self, event_id, *, title=None, start=None, guests=None) -> None:  # type: ignore[no-untyped-def]
        changes: dict[str, Any] = {}
        if title is not None:
            changes["subject"] = title
        if start is not None:
            changes["start"] = _graph_time(start)
            changes["end"] = _graph_time(start + timedelta(hours=1))
        if guests is not None:
            changes["attendees"] = [
                {"emailAddress": {"address": g}, "type": "required"} for g in guests
            ]
        await self._call("PATCH", self._path(f"/{event_id}"), changes)

    async def cancel(self, event_id: str) -> None:
        await self._call("POST", self._path(f"/{event_id}/cancel"), {})

    async def delete(self, event_id: str) -> None:
        await self._call("DELETE", self._path(f"/{event_id}"))

    async def make_private(self, event_id: str) -> None:
        await self._call("POST", self._path(f"/{event_id}/private"), {"sensitivity": "private"})

    async def respond(self, event_id: str, email: str, accepted: bool) -> None:
        await self._call(
            "POST",
            self._path(f"/{event_id}/responses"),
            {"attendee": email, "response": "accepted" if accepted else "declined"},
        )

    async def move_occurrence(self, series_id: str, original: datetime, start: datetime) -> None:
        await self._call(
            "PATCH",
            self._path(f"/{series_id}/occurrences"),
            {
                "originalStart": _utc(original),
                "changes": {
                    "start": _graph_time(start),
                    "end": _graph_time(start + timedelta(hours=1)),
                },
            },
        )

    async def cancel_occurrence(self, series_id: str, original: datetime) -> None:
        await self._call(
            "POST",
            self._path(f"/{series_id}/occurrences/cancel"),
            {"originalStart": _utc(original)},
        )

    async def restore_occurrence(self, series_id: str, original: datetime) -> None:
        await self._call(
            "POST",
            self._path(f"/{series_id}/occurrences/restore"),
            {"originalStart": _utc(original)},
        )

    async def expire_cursor(self) -> None:
        await self._call("POST", "delta/invalidate", {"email": self.owner})
