"""What a person pastes to name an event of their calendar — a provider's event link or the
event's id — as the provider event id, for the provider of their linked calendar."""

from __future__ import annotations

from sync.provider import ProviderName
from sync.providers.google import links as google_links
from sync.providers.google.client import is_event_id as is_google_id
from sync.providers.microsoft import links as microsoft_links

MAX_LENGTH = 4096

_PARSERS = {
    ProviderName.GOOGLE: (google_links.event_id_from_link, is_google_id),
    ProviderName.MICROSOFT: (microsoft_links.event_id_from_link, microsoft_links.is_event_id),
}


class NotAnEvent(ValueError):
    """The text is neither an event link of the provider nor an event id it could issue."""


def looks_like_link(text: str) -> bool:
    return "://" in text


def provider_event_id(text: str, provider: ProviderName) -> str:
    """The event id `text` names in a `provider` calendar; `NotAnEvent` with the reason."""
    text = text.strip()
    if not text or len(text) > MAX_LENGTH:
        raise NotAnEvent(f"give an event link or an event id (at most {MAX_LENGTH} characters)")
    from_link, is_id = _PARSERS[provider]
    if looks_like_link(text):
        event_id = from_link(text)
        if event_id is None:
            raise NotAnEvent(f"not a {provider.label} event link")
        return event_id
    if not is_id(text):
        raise NotAnEvent(f"not a {provider.label} event id or event link")
    return text
