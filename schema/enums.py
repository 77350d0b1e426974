"""Enums shared by several domains of the schema."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class CalendarProvider(Enum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"


@strawberry.enum
class ConnectionStatus(Enum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"
