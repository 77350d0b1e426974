"""What a person pastes to name an event — a Google Calendar or Outlook link, or an id — read
as the provider's event id (pure functions, no server)."""

from __future__ import annotations

import base64

import pytest

from sync.event_links import NotAnEvent, provider_event_id

GOOGLE = "google"
MICROSOFT = "microsoft"


def eid(text: str, *, padded: bool = False) -> str:
    encoded = base64.urlsafe_b64encode(text.encode()).decode()
    return encoded if padded else encoded.rstrip("=")


@pytest.mark.parametrize(
    "link",
    [
        f"https://www.google.com/calendar/event?eid={eid('4fk2s9q1b7o3 ana@acme.test')}",
        f"https://calendar.google.com/calendar/event?eid={eid('4fk2s9q1b7o3 ana@m', padded=True)}",
        f"https://calendar.google.com/calendar/u/0/r/eventedit/{eid('4fk2s9q1b7o3 ana@m')}",
        f"https://www.google.com/calendar/event?eid={eid('4fk2s9q1b7o3')}&ctz=Europe/Berlin",
        "  4fk2s9q1b7o3 ",
    ],
)
def test_google_links_and_ids_name_the_event(link: str) -> None:
    assert provider_event_id(link, GOOGLE) == "4fk2s9q1b7o3"


def test_a_google_occurrence_link_names_the_instance() -> None:
    link = f"https://www.google.com/calendar/event?eid={eid('4fk2s9_20261207T100000Z a@b.c')}"
    assert provider_event_id(link, GOOGLE) == "4fk2s9_20261207T100000Z"


@pytest.mark.parametrize(
    "link",
    [
        "https://outlook.office365.com/owa/?itemid=AAMkAGI2TH%2BVSAAA%3D&exvsurl=1&path=/calendar/item",
        "https://outlook.office.com/calendar/item/AAMkAGI2TH%2BVSAAA%3D",
        "https://outlook.live.com/calendar/0/deeplink/read/AAMkAGI2TH_VSAAA%3D",
        "AAMkAGI2TH_VSAAA=",
    ],
)
def test_outlook_links_and_ids_name_the_graph_event(link: str) -> None:
    # Outlook's EWS form (`+`, `/`) and Graph's REST form (`_`, `-`) name the same item.
    assert provider_event_id(link, MICROSOFT) == "AAMkAGI2TH_VSAAA="


@pytest.mark.parametrize(
    ("text", "provider"),
    [
        ("https://example.com/calendar/event?eid=YWJj", GOOGLE),
        ("https://www.google.com/calendar/event?eid=%25%25", GOOGLE),
        (f"https://www.google.com/calendar/event?eid={eid('../../etc a@b')}", GOOGLE),
        ("https://www.google.com/search?q=meeting", GOOGLE),
        ("https://outlook.office365.com/owa/?itemid=AAMk&exvsurl=1", GOOGLE),
        (f"https://www.google.com/calendar/event?eid={eid('abc a@b')}", MICROSOFT),
        ("https://outlook.evil.test/owa/?itemid=AAMkAGI2", MICROSOFT),
        ("javascript:alert(1)//https://outlook.office.com/calendar/item/AAMk", MICROSOFT),
        ("two words", GOOGLE),
        ("abc/../def", MICROSOFT),
        ("", GOOGLE),
        ("x" * 5000, MICROSOFT),
    ],
)
def test_anything_else_is_refused_with_the_reason(text: str, provider: str) -> None:
    with pytest.raises(NotAnEvent):
        provider_event_id(text, provider)
