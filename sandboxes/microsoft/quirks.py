"""Ways the real Graph misbehaves that the sandbox reproduces on demand (``/_sandbox/quirks``).

Each is documented or reported against the real service:

- ``expired_status``/``expired_code``: how an expired or unknown delta token is answered. Graph
  documents "a 40X-series error with error codes such as syncStateNotFound" (410 Gone, or 400
  BadRequest ``syncStateNotFound``, or ``resyncRequired``):
  https://learn.microsoft.com/en-us/graph/delta-query-overview#synchronization-reset
- ``repeat_pages``: each calendarView delta page is served this many extra times, each time
  under a fresh ``@odata.nextLink`` (msgraph-sdk-dotnet #3082: the same page with new links).
- ``page_overflow``: each calendarView delta page carries this many items beyond
  ``odata.maxpagesize`` (series expanding past the asked size: msgraph-sdk-dotnet #3070).
- ``max_window_days``: a calendarView delta round over a longer window answers 503 (long
  windows over endless series time out: microsoft-graph-docs #3657, #6499).
- ``mailbox_concurrency``: requests in flight per mailbox before 429 ``ApplicationThrottled``
  "MailboxConcurrency" (Outlook's documented limit is 4, the default here):
  https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits
- ``mailbox_requests_per_10_minutes``: requests per app and mailbox in any 10 minutes before
  429 ``ApplicationThrottled`` with a Retry-After (Outlook's documented 10,000, the default).
- ``mailbox_latency_ms``: how long each Graph request of a mailbox takes inside its
  concurrency slot (real mailboxes answer in tens to hundreds of milliseconds, so a client's
  parallel requests really overlap).
- ``lost_subscription_answers``: the next N ``POST /subscriptions`` create their subscription,
  then the connection drops before the answer (a lost answer: the client cannot know the
  subscription exists, and a retry makes a second one).
- ``refresh_error``: every refresh-token grant is refused with this error
  (``interaction_required``: MFA or Conditional Access now asks for the user;
  ``consent_required``: consent was withdrawn): only the user signing in again helps.
  https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
- ``x500_organizers``: the organizer of a meeting someone else organises is written in the
  X500 (legacyExchangeDN) form Exchange uses for recipients it resolves internally
  (microsoft-graph-docs #13898).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

_FIELDS = {
    "expiredStatus": "expired_status",
    "expiredCode": "expired_code",
    "repeatPages": "repeat_pages",
    "maxWindowDays": "max_window_days",
    "mailboxConcurrency": "mailbox_concurrency",
    "mailboxLatencyMs": "mailbox_latency_ms",
    "mailboxRequestsPer10Minutes": "mailbox_requests_per_10_minutes",
    "x500Organizers": "x500_organizers",
    "lostSubscriptionAnswers": "lost_subscription_answers",
    "refreshError": "refresh_error",
    "pageOverflow": "page_overflow",
}
EXPIRED_CODES = frozenset(
    {"SyncStateNotFound", "syncStateNotFound", "resyncRequired", "SyncStateInvalid"}
)


@dataclass
class GraphQuirks:
    """The current settings; the defaults are how Graph usually behaves."""

    expired_status: int = 410
    expired_code: str = "SyncStateNotFound"
    repeat_pages: int = 0
    max_window_days: float | None = None
    mailbox_concurrency: int = 4
    mailbox_latency_ms: float = 0.0
    mailbox_requests_per_10_minutes: int = 10_000
    x500_organizers: bool = False
    lost_subscription_answers: int = 0
    refresh_error: str | None = None
    page_overflow: int = 0

    def update(self, body: dict[str, Any]) -> None:
        """Apply camelCase fields (those given), all or none; ValueError on an unknown or bad
        one."""
        changed = replace(self)
        for name, value in body.items():
            if name not in _FIELDS:
                raise ValueError(f"unknown quirk {name!r}")
            setattr(changed, _FIELDS[name], value)
        if (
            changed.expired_status not in (400, 404, 410)
            or changed.expired_code not in EXPIRED_CODES
        ):
            raise ValueError("expiredStatus must be 400, 404 or 410 with a sync-state code")
        if (
            int(changed.repeat_pages) < 0
            or int(changed.page_overflow) < 0
            or int(changed.mailbox_concurrency) < 1
            or int(changed.mailbox_requests_per_10_minutes) < 1
        ):
            raise ValueError("repeatPages must be >= 0 and mailboxConcurrency >= 1")
        for field in fields(self):
            setattr(self, field.name, getattr(changed, field.name))

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        return {camel: values[snake] for camel, snake in _FIELDS.items()}

    def reset(self) -> None:
        for field in fields(self):
            setattr(self, field.name, field.default)
