"""Enums shared by several domains of the schema."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from sync.model import EventStatus, Response
from sync.providers import registry


def provider_enum(name: str, description: str, **extra: str) -> type[Enum]:
    """A GraphQL enum with one value per registered provider (sync/providers/registry.py),
    `GOOGLE = "google"`, after `extra`; derived when the schema is built, so a provider
    registered later is not in this process's schema."""
    members = {**extra, **{spec.name.upper(): spec.name for spec in registry.specs()}}
    made: type[Enum] = strawberry.enum(Enum(name, members), description=description)  # type: ignore[call-overload]
    return made


if TYPE_CHECKING:  # the members are the registered providers'; mypy sees a plain enum

    class CalendarProvider(Enum): ...

else:
    CalendarProvider = provider_enum(
        "CalendarProvider",
        "A calendar provider this server knows (`calendarProviders` says which are configured "
        "and how each links).",
    )


@strawberry.enum
class ConnectionStatus(Enum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"


if TYPE_CHECKING:  # the members are CRM and the registered providers'

    class MeetingSource(Enum): ...

else:
    MeetingSource = provider_enum(
        "MeetingSource",
        "Where a meeting came from: created in Chronik (CRM), or synced from a provider.",
        CRM="crm",
    )


# The sync model's enums, exposed under the schema's names (same members, same values).
strawberry.enum(EventStatus, name="MeetingStatus")
strawberry.enum(Response, name="AttendeeResponse")
MeetingStatus = EventStatus
AttendeeResponse = Response
