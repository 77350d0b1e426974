"""What a person pastes to name an event of their calendar — a provider's event link or the
event's id — as the provider event id, for the provider of their linked calendar."""

from __future__ import annotations

from sync.providers import registry

MAX_LENGTH = 4096


class NotAnEvent(ValueError):
    """The text is neither an event link of the provider nor an event id it could issue."""


def looks_like_link(text: str) -> bool:
    return "://" in text


def provider_event_id(text: str, provider: str) -> str:
    """The event id `text` names in a `provider` calendar; `NotAnEvent` with the reason
    (`UnknownProvider` for a provider no spec names)."""
    spec = registry.spec(provider)
    text = text.strip()
    if not text or len(text) > MAX_LENGTH:
        raise NotAnEvent(f"give an event link or an event id (at most {MAX_LENGTH} characters)")
    if looks_like_link(text):
        event_id = spec.event_id_from_link(text)
        if event_id is None:
            raise NotAnEvent(f"not a {spec.label} event link")
        return event_id
    if not spec.is_event_id(text):
        raise NotAnEvent(f"not a {spec.label} event id or event link")
    return text
