"""What a provider's requests carry: an access token and the source that renews it.

Types only, on their own so that the provider spec, the HTTP session and the credentials
(which read the spec) can all name them without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AccessToken:
    value: str
    # The connection's token version it came from (None: not from a stored connection).
    version: int | None = None
    # The `Authorization` scheme: OAuth tokens are bearer tokens; a provider linked with a
    # username and password may send `Basic` credentials instead.
    scheme: str = "Bearer"
    # What else a provider linked with typed credentials stored for its client (e.g. a CalDAV
    # calendar's URL), from its spec's `authorization`; empty for OAuth.
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def authorization(self) -> str:
        """The `Authorization` header's value."""
        return f"{self.scheme} {self.value}"


class TokenSource(Protocol):
    async def current(self) -> AccessToken: ...

    async def rejected(self, token: AccessToken) -> AccessToken:
        """A replacement for a token the provider refused (401)."""
        ...
