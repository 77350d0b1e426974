"""Microsoft's own Python client, msgraph-sdk, against the Microsoft sandbox: every request it
sends is answered and its models parse the answers (as google-api-python-client does for the
Google sandbox in test_google_client.py). Create, get, patch, cancel and delete an event; page
calendarView delta to its deltaLink and resume from it; make, renew and delete a
subscription."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import (
    CancelPostRequestBody,
)
from msgraph.graph_request_adapter import options as SDK_OPTIONS
from msgraph_core import GraphClientFactory


class SandboxToken(AccessTokenProvider):
    """The sandbox user's access token, for the sandbox's host only."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


@pytest.fixture
async def sdk(microsoft) -> AsyncIterator[GraphServiceClient]:
    host = urlsplit(microsoft.url).netloc
    auth = BaseBearerTokenAuthenticationProvider(SandboxToken(microsoft.token, host))
    async with httpx.AsyncClient() as http:
        # The SDK's own middleware options: they turn its `/users/me-token-to-replace` into
        # `/me`, as the SDK does when it builds its client itself.
        client = GraphClientFactory.create_with_default_middleware(client=http, options=SDK_OPTIONS)
        adapter = GraphRequestAdapter(auth, client=client)
        adapter.base_url = f"{microsoft.url}/v1.0"
        yield GraphServiceClient(request_adapter=adapter)


def _when(moment: datetime, zone: str = "W. Europe Standard Time") -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=moment.strftime("%Y-%m-%dT%H:%M:%S"), time_zone=zone)


def _now(harness) -> datetime:
    return datetime.fromtimestamp(harness.clock(), UTC).replace(microsecond=0)


async def test_sdk_creates_gets_patches_cancels_and_deletes_events(microsoft, sdk):
    start = _now(microsoft) + timedelta(days=2)
    made = await sdk.me.events.post(
        Event(
            subject="Quarterly review",
            body=ItemBody(content_type=BodyType.Text, content="Numbers"),
            start=_when(start),
            end=_when(start + timedelta(hours=1)),
            attendees=[
                Attendee(
                    email_address=EmailAddress(address="dana@client.test", name="Dana"),
                    type=AttendeeType.Required,
                )
            ],
            transaction_id="sdk-1",
        )
    )
    assert made is not None and made.id and made.i_cal_u_id
    assert made.original_start_time_zone == "W. Europe Standard Time"
    assert made.attendees[0].email_address.address == "dana@client.test"

    got = await sdk.me.events.by_event_id(made.id).get()
    assert got.subject == "Quarterly review" and got.body.content == "Numbers"

    patched = await sdk.me.events.by_event_id(made.id).patch(Event(subject="Renamed"))
    assert patched.subject == "Renamed" and patched.change_key != made.change_key

    await sdk.me.events.by_event_id(made.id).cancel.post(CancelPostRequestBody(comment="Sorry"))
    kinds = [m["kind"] for m in microsoft.sandbox.invitations()]
    assert kinds == ["invitation", "update", "cancellation"]

    other = await sdk.me.events.post(
        Event(subject="Solo", start=_when(start), end=_when(start + timedelta(minutes=30)))
    )
    await sdk.me.events.by_event_id(other.id).delete()
    listed = await sdk.me.events.get()
    assert [e.subject for e in listed.value] == []


async def test_sdk_refused_time_zone_is_an_odata_error(microsoft, sdk):
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    start = _now(microsoft) + timedelta(days=2)
    with pytest.raises(ODataError) as refused:
        await sdk.me.events.post(
            Event(
                subject="Zurich",
                start=_when(start, "Europe/Zurich"),
                end=_when(start + timedelta(hours=1), "Europe/Zurich"),
            )
        )
    assert refused.value.error.code == "TimeZoneNotSupportedException"


async def test_sdk_pages_calendar_view_delta_to_the_end_and_resumes(microsoft, sdk):
    base = _now(microsoft) + timedelta(days=1)
    for n in range(5):
        microsoft.sandbox.create_event(
            microsoft.email,
            {
                "subject": f"E{n}",
                "start": {
                    "dateTime": (base + timedelta(days=n)).isoformat()[:19],
                    "timeZone": "UTC",
                },
                "end": {
                    "dateTime": (base + timedelta(days=n, hours=1)).isoformat()[:19],
                    "timeZone": "UTC",
                },
            },
        )
    window = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        start_date_time=(base - timedelta(days=30)).isoformat(),
        end_date_time=(base + timedelta(days=365)).isoformat(),
    )
    config = RequestConfiguration(query_parameters=window)
    config.headers.add("Prefer", "odata.maxpagesize=2")
    page = await sdk.me.calendar_view.delta.get(request_configuration=config)
    subjects, pages = [e.subject for e in page.value], 1
    more: RequestConfiguration[Any] = RequestConfiguration()
    more.headers.add("Prefer", "odata.maxpagesize=2")  # a preference holds per request
    while page.odata_next_link:
        page = await sdk.me.calendar_view.delta.with_url(page.odata_next_link).get(
            request_configuration=more
        )
        subjects += [e.subject for e in page.value]
        pages += 1
    assert (sorted(subjects), pages) == ([f"E{n}" for n in range(5)], 3)
    delta_link = page.odata_delta_link
    assert delta_link

    microsoft.sandbox.create_event(
        microsoft.email,
        {
            "subject": "Later",
            "start": {"dateTime": base.isoformat()[:19], "timeZone": "UTC"},
            "end": {"dateTime": (base + timedelta(hours=1)).isoformat()[:19], "timeZone": "UTC"},
        },
    )
    resumed = await sdk.me.calendar_view.delta.with_url(delta_link).get()
    assert [e.subject for e in resumed.value] == ["Later"]
    assert resumed.odata_delta_link and not resumed.odata_next_link


async def test_sdk_makes_renews_and_deletes_a_subscription(microsoft, sdk, graph_receiver):
    expires = _now(microsoft) + timedelta(days=2)
    made = await sdk.subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=graph_receiver.url,
            lifecycle_notification_url=graph_receiver.url,
            resource="me/events",
            expiration_date_time=expires,
            client_state="sdk-secret",
        )
    )
    assert made.id and made.resource == "me/events" and made.client_state == "sdk-secret"
    assert made.expiration_date_time == expires
    assert len(graph_receiver.validations) == 2

    later = expires + timedelta(hours=12)
    renewed = await sdk.subscriptions.by_subscription_id(made.id).patch(
        Subscription(expiration_date_time=later)
    )
    assert renewed.expiration_date_time == later
    listed = await sdk.subscriptions.get()
    assert [s.id for s in listed.value] == [made.id]
    await sdk.subscriptions.by_subscription_id(made.id).delete()
    assert (await sdk.subscriptions.get()).value == []
