"""Graph change-notification subscriptions on ``me/events``: validation handshake, lifetime,
and delivery of notifications by a background task.

Creating a subscription first POSTs ``notificationUrl?validationToken=<token>`` (text/plain, empty
body); the endpoint must answer 200 with exactly the token as text/plain within 10 s, or the
create fails with 400 ``ValidationError``. Outlook event subscriptions live at most
``MAX_EVENT_MINUTES`` (10,080 minutes, "under 7 days"; less than 45 minutes is raised to 45) and
are renewed by PATCHing ``expirationDateTime``. Each change of a user's event is queued (never
delivered inside the request that made it) and POSTed once per live subscription; failures are
logged and dropped, as Graph does after its retries. Delivery can be held, then released reversed
and/or duplicated, to test a client's handling of out-of-order and repeated notifications; the
next ``drop`` notifications can be lost. ``faults`` counts every quirk applied, by kind.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson

from sync.providers.microsoft.wire import (
    ChangeNotification,
    ChangeNotificationCollection,
    LifecycleNotification,
    Subscription,
)

from .errors import GraphError, bad_request
from .ids import IdFactory
from .store import Change, Mailbox
from .timefmt import offset_text, parse_offset

log = logging.getLogger(__name__)

MAX_EVENT_MINUTES = 10080  # Outlook event subscriptions without resource data: "under 7 days"
MIN_MINUTES = 45  # shorter requested lifetimes are raised to 45 minutes
VALIDATION_TIMEOUT_S = 10.0
DELIVERY_TIMEOUT_S = 5.0
_CHANGE_TYPES = {"created", "updated", "deleted"}
_LIFECYCLE_EVENTS = {"subscriptionRemoved", "missed", "reauthorizationRequired"}


@dataclass
class SubscriptionState:
    id: str
    email: str
    user_id: str
    resource: str
    change_types: set[str]
    notification_url: str
    client_state: str | None
    expiration: datetime
    application_id: str
    lifecycle_url: str | None = None

    def to_json(self) -> Subscription:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(
                t for t in ("created", "updated", "deleted") if t in self.change_types
            ),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": offset_text(self.expiration),
            "creatorId": self.user_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


@dataclass
class Delivery:
    """One queued notification POST (and, once tried, its outcome)."""

    subscription_id: str
    url: str
    payload: ChangeNotificationCollection
    status: int | None = None
    error: str | None = None
    attempts: list[str] = field(default_factory=list)
    lifecycle: bool = False  # delivered even after its subscription was removed

    def to_json(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.subscription_id,
            "notificationUrl": self.url,
            "payload": self.payload,
            "status": self.status,
            "error": self.error,
        }


def _not_found() -> GraphError:
    return GraphError(404, "ResourceNotFound", "The object was not found.")


class Subscriptions:
    """Every subscription of the sandbox and the delivery queue."""

    def __init__(
        self, ids: IdFactory, now: Callable[[], datetime], tenant_id: str, application_id: str
    ) -> None:
        self._ids = ids
        self._now = now
        self.tenant_id = tenant_id
        self.application_id = application_id
        self.items: dict[str, SubscriptionState] = {}
        self.delivered: list[Delivery] = []
        self.hold = False
        self.duplicate = False
        self.drop = 0
        # Quirks applied so far: push_duplicated, push_reordered, push_dropped.
        self.faults: collections.Counter[str] = collections.Counter()
        self._held: list[Delivery] = []
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None

    # -- lifecycle of the delivery worker -------------------------------------------------------

    async def start(self) -> None:
        """Open the outbound HTTP session and start delivering queued notifications."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        if self._worker is None:
            self._worker = asyncio.create_task(self._deliver_forever())

    async def stop(self) -> None:
        """Stop the worker and close the session (queued notifications are dropped)."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drain(self) -> None:
        """Wait until every queued notification has been delivered (or dropped)."""
        await self._queue.join()

    # -- the Graph API --------------------------------------------------------------------------

    async def create(self, user: Mailbox, body: Mapping[str, Any]) -> Subscription:
        """``POST /subscriptions``: validate the body, run the validation handshake, store."""
        change_types = self._change_types(body.get("changeType"))
        url = body.get("notificationUrl")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise bad_request("Invalid notification url.", "InvalidRequest")
        resource = str(body.get("resource") or "")
        if not self._resource_is_users_events(user, resource):
            raise bad_request(
                f"Unsupported or invalid resource '{resource}': this sandbox supports "
                "'me/events' and 'users/{id}/events'.",
                "InvalidRequest",
            )
        expiration = self._expiration(body.get("expirationDateTime"))
        client_state = body.get("clientState")
        if client_state is not None and len(str(client_state)) > 128:
            raise bad_request("clientState must be at most 128 characters.", "InvalidRequest")
        lifecycle_url = body.get("lifecycleNotificationUrl")
        if lifecycle_url is not None and (
            not isinstance(lifecycle_url, str)
            or urlsplit(lifecycle_url).scheme not in ("http", "https")
        ):
            raise bad_request("Invalid lifecycle notification url.", "InvalidRequest")
        await self._validate(url)
        if lifecycle_url is not None:
            # Graph validates both endpoints, even when they are the same.
            await self._validate(lifecycle_url)
        state = SubscriptionState(
            id=self._ids.guid(),
            email=user.email,
            user_id=user.id,
            resource=resource,
            change_types=change_types,
            notification_url=url,
            client_state=client_state,
            expiration=expiration,
            application_id=self.application_id,
            lifecycle_url=lifecycle_url,
        )
        self.items[state.id] = state
        return state.to_json()

    def get(self, user: Mailbox, subscription_id: str) -> SubscriptionState:
        """A live subscription of ``user``; 404 when unknown, deleted, expired or not theirs."""
        state = self.items.get(subscription_id)
        if state is None or state.email != user.email or state.expiration <= self._now():
            raise _not_found()
        return state

    def list(self, user: Mailbox) -> list[Subscription]:
        """``GET /subscriptions``: the user's live subscriptions."""
        now = self._now()
        return [
            s.to_json() for s in self.items.values() if s.email == user.email and s.expiration > now
        ]

    def renew(self, user: Mailbox, subscription_id: str, body: Mapping[str, Any]) -> Subscription:
        """``PATCH /subscriptions/{id}``: a new expirationDateTime (within the maximum); 404 for
        an expired or removed subscription, which cannot be revived, and 400 for a
        lifecycleNotificationUrl, which "cannot be added by updating a subscription"
        (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events)."""
        state = self.get(user, subscription_id)
        if "lifecycleNotificationUrl" in body:
            raise bad_request(
                "lifecycleNotificationUrl cannot be updated; create a new subscription instead.",
                "InvalidRequest",
            )
        if "expirationDateTime" in body:
            state.expiration = self._expiration(body["expirationDateTime"])
        return state.to_json()

    def delete(self, user: Mailbox, subscription_id: str) -> None:
        """``DELETE /subscriptions/{id}``: no more notifications."""
        self.get(user, subscription_id)
        del self.items[subscription_id]

    def expire(self, subscription_id: str | None = None) -> int:
        """Control API: make one (or every) subscription expired now. Returns how many."""
        now = self._now() - timedelta(seconds=1)
        hit = [s for s in self.items.values() if subscription_id in (None, s.id)]
        for state in hit:
            state.expiration = now
        return len(hit)

    def lifecycle(self, event: str, subscription_id: str | None = None) -> int:
        """Control API: Graph sends the lifecycle notification ``event`` (subscriptionRemoved,
        missed, reauthorizationRequired) for one (or every) live subscription that has a
        lifecycleNotificationUrl; ``subscriptionRemoved`` also removes them (without such a
        URL, the removal is silent). Returns how many subscriptions were hit.
        https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events"""
        if event not in _LIFECYCLE_EVENTS:
            raise ValueError(f"unknown lifecycle event {event!r}")
        now = self._now()
        hit = [
            s for s in self.items.values() if subscription_id in (None, s.id) and s.expiration > now
        ]
        for state in hit:
            if state.lifecycle_url is not None:
                notice: LifecycleNotification = {
                    "subscriptionId": state.id,
                    "subscriptionExpirationDateTime": offset_text(state.expiration),
                    "tenantId": self.tenant_id,
                    "clientState": state.client_state,
                    "lifecycleEvent": cast(Any, event),
                }
                payload = cast(ChangeNotificationCollection, {"value": [notice]})
                self._queue.put_nowait(
                    Delivery(state.id, state.lifecycle_url, payload, lifecycle=True)
                )
            if event == "subscriptionRemoved":
                del self.items[state.id]
        return len(hit)

    def reset(self) -> None:
        """Forget subscriptions, held notifications and the delivery log."""
        self.items.clear()
        self.delivered.clear()
        self._held.clear()
        self.hold = False
        self.duplicate = False
        self.drop = 0
        self.faults.clear()

    # -- notifications --------------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        """Store listener: queue one notification per live subscription that wants it."""
        now = self._now()
        for state in self.items.values():
            if (
                state.email != change.email
                or state.expiration <= now
                or change.change_type not in state.change_types
            ):
                continue
            path = f"Users/{change.user_id}/Events/{change.event_id}"
            notification: ChangeNotification = {
                "subscriptionId": state.id,
                "subscriptionExpirationDateTime": offset_text(state.expiration),
                "changeType": change.change_type,
                "resource": path,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": path,
                    "@odata.etag": change.etag,
                    "id": change.event_id,
                },
                "clientState": state.client_state,
                "tenantId": self.tenant_id,
            }
            delivery = Delivery(state.id, state.notification_url, {"value": [notification]})
            if self.hold:
                self._held.append(delivery)
            else:
                self._enqueue(delivery)

    def release(self, reverse: bool = False, duplicate: bool = False, batch: bool = False) -> int:
        """Stop holding; queue the held notifications (reversed and/or twice; with ``batch``,
        one POST per subscription carrying all its notifications in ``value``, as Graph may
        send them). Returns how many notifications were held."""
        held, self._held, self.hold = self._held, [], False
        count = len(held)
        if reverse and count > 1:
            held.reverse()
            self.faults["push_reordered"] += count
        if batch:
            merged: dict[str, Delivery] = {}
            for delivery in held:
                first = merged.setdefault(
                    delivery.subscription_id,
                    Delivery(delivery.subscription_id, delivery.url, {"value": []}),
                )
                first.payload["value"].extend(delivery.payload["value"])
            held = list(merged.values())
        for delivery in held:
            self._enqueue(delivery, duplicate=duplicate)
        return count

    @property
    def held(self) -> int:
        return len(self._held)

    def _enqueue(self, delivery: Delivery, *, duplicate: bool | None = None) -> None:
        """Queue one POST (twice when duplicating: ``duplicate``, else the sandbox setting),
        or lose it while ``drop`` lasts."""
        if self.drop > 0:
            # Lost on the way, as a notification Graph gave up on: never POSTed.
            self.drop -= 1
            self.faults["push_dropped"] += 1
            delivery.error = "dropped (sandbox setting)"
            self.delivered.append(delivery)
            return
        self._queue.put_nowait(delivery)
        if self.duplicate if duplicate is None else duplicate:
            self.faults["push_duplicated"] += 1
            self._queue.put_nowait(
                Delivery(delivery.subscription_id, delivery.url, delivery.payload)
            )

    async def _deliver_forever(self) -> None:
        while True:
            delivery = await self._queue.get()
            try:
                await self._deliver(delivery)
            except Exception as exc:  # the worker must survive any receiver
                log.warning("notification delivery failed: %s", exc)
            finally:
                self._queue.task_done()

    async def _deliver(self, delivery: Delivery) -> None:
        state = self.items.get(delivery.subscription_id)
        if not delivery.lifecycle and (state is None or state.expiration <= self._now()):
            delivery.error = "subscription deleted or expired"
            self.delivered.append(delivery)
            return
        assert self._session is not None
        try:
            async with self._session.post(
                delivery.url,
                data=orjson.dumps(delivery.payload),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S),
            ) as response:
                delivery.status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            log.info("notification to %s dropped: %s", delivery.url, delivery.error)
        self.delivered.append(delivery)

    # -- helpers --------------------------------------------------------------------------------

    async def _validate(self, url: str) -> None:
        token = (
            f"Validation: Testing client application reachability for subscription "
            f"Request-Id: {self._ids.guid()}"
        )
        separator = "&" if urlsplit(url).query else "?"
        target = url + separator + urlencode({"validationToken": token})
        session = self._session or aiohttp.ClientSession()
        try:
            async with session.post(
                target,
                data=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=VALIDATION_TIMEOUT_S),
            ) as response:
                text = await response.text()
                status = response.status
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise bad_request(
                "Subscription validation request failed. Notification endpoint must respond "
                f"with 200 OK to validation request. ({type(exc).__name__})",
                "ValidationError",
            ) from exc
        finally:
            if session is not self._session:
                await session.close()
        if status != 200:
            raise bad_request(
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK to validation request.",
                "ValidationError",
            )
        if text != token or content_type != "text/plain":
            raise bad_request(
                "Subscription validation request failed. Response must exactly match "
                "validationToken query parameter.",
                "ValidationError",
            )

    def _change_types(self, raw: Any) -> set[str]:
        types = {t.strip() for t in str(raw or "").split(",") if t.strip()}
        if not types or not types <= _CHANGE_TYPES:
            raise bad_request(
                "changeType must be a comma-separated list of created, updated, deleted.",
                "InvalidRequest",
            )
        return types

    def _expiration(self, raw: Any) -> datetime:
        if not isinstance(raw, str):
            raise bad_request("expirationDateTime is required.", "InvalidRequest")
        try:
            expiration = parse_offset(raw)
        except ValueError as exc:
            raise bad_request(
                "expirationDateTime is not a DateTimeOffset.", "InvalidRequest"
            ) from exc
        now = self._now()
        if expiration <= now:
            raise bad_request("Subscription expiration must be in the future.", "InvalidRequest")
        if expiration > now + timedelta(minutes=MAX_EVENT_MINUTES):
            raise bad_request(
                f"Subscription expiration can only be {MAX_EVENT_MINUTES} minutes in the future.",
                "InvalidRequest",
            )
        return max(expiration, now + timedelta(minutes=MIN_MINUTES))

    @staticmethod
    def _resource_is_users_events(user: Mailbox, resource: str) -> bool:
        parts = [p for p in resource.strip("/").split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered == ["me", "events"]:
            return True
        return (
            len(parts) == 3
            and lowered[0] == "users"
            and lowered[2] == "events"
            and parts[1].lower() in (user.id.lower(), user.email.lower())
        )
