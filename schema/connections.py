"""Calendar integration and links: enums, `CalendarConnection`, and their queries/mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from db.connections import ConnectionRow
from db.link_states import AttemptRow
from resolvers import connections as resolve
from resolvers.context import Context
from resolvers.meetings import sync_now
from schema.accounts import Account
from schema.enums import CalendarProvider, ConnectionStatus
from schema.ids import Node, encode_id
from schema.permissions import AdminOnly, OwnCalendar, guarded_by
from sync.providers import registry
from sync.providers.spec import CredentialLinking

ChronikInfo = Info[Context, None]


@strawberry.enum
class SyncPhase(Enum):
    INITIAL = "initial"
    INCREMENTAL = "incremental"
    FAILING = "failing"


@strawberry.type(description="Where the sync of a calendar stands.")
class SyncState:
    phase: SyncPhase = strawberry.field(
        description="INITIAL until the first full sync completes; FAILING after a failed run."
    )
    syncing: bool = strawberry.field(description="A worker is syncing the calendar right now.")
    requested: bool = strawberry.field(description="A sync is queued.")
    events_seen: int = strawberry.field(description="Events read in the current full round.")
    last_synced_at: datetime | None
    last_error: str | None
    failure_count: int


@strawberry.type(
    description="Which calendar a provider linked with typed credentials (CalDAV) syncs: "
    "the server's default calendar for invitations where it names one, else its first "
    "calendar; link again with another calendar's URL as the server to change it."
)
class LinkedCalendarChoice:
    url: str
    name: str | None = strawberry.field(description="Its display name on the server.")
    chosen_by: str | None = strawberry.field(
        description="Why this one: schedule-default-calendar-URL, first calendar, or the "
        "calendar URL you gave."
    )


@strawberry.type(description="A user's linked primary calendar.")
class CalendarConnection(Node):
    provider: CalendarProvider
    calendar_email: str = strawberry.field(description="The calendar owner's address.")
    user_email: str = strawberry.field(description="The Chronik user who linked it.")
    status: ConnectionStatus
    linked_at: datetime = strawberry.field(
        description="Events created before this moment are not synced."
    )
    last_synced_at: datetime | None
    last_error: str | None = strawberry.field(description="What went wrong last, for a person.")
    last_error_at: datetime | None
    failure_count: int

    sync_state: SyncState
    row: strawberry.Private[ConnectionRow | None] = None

    @strawberry.field(
        description="The calendar synced, for providers linked with typed credentials "
        "(CalDAV); null for Google and Microsoft 365 (the primary calendar)."
    )
    def calendar(self, info: ChronikInfo) -> LinkedCalendarChoice | None:
        if self.row is None:
            return None
        chosen = info.context.services.linker.chosen_calendar(self.row)
        if "calendar_url" not in chosen:
            return None
        return LinkedCalendarChoice(
            url=chosen["calendar_url"],
            name=chosen.get("calendar_name"),
            chosen_by=chosen.get("chosen_by"),
        )

    @staticmethod
    def from_row(row: ConnectionRow) -> CalendarConnection:
        phase = SyncPhase(row.sync_phase)
        if row.failure_count > 0:
            phase = SyncPhase.FAILING
        return CalendarConnection(
            sync_state=SyncState(
                phase=phase,
                syncing=row.syncing,
                requested=row.sync_requested_at is not None,
                events_seen=row.events_seen,
                last_synced_at=row.last_synced_at,
                last_error=row.last_error,
                failure_count=row.failure_count,
            ),
            id=encode_id("CalendarConnection", row.id),
            provider=CalendarProvider(row.provider),
            calendar_email=row.calendar_email,
            user_email=row.user_email,
            status=ConnectionStatus(row.status),
            linked_at=row.linked_at,
            last_synced_at=row.last_synced_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            failure_count=row.failure_count,
            row=row,
        )


@strawberry.enum(description="How far a calendar link attempt got.")
class CalendarLinkStatus(Enum):
    WAITING_FOR_BROWSER = "waiting_for_browser"
    AT_PROVIDER = "at_provider"
    LINKED = "linked"
    FAILED = "failed"
    EXPIRED = "expired"


@strawberry.enum(description="Why a calendar link attempt failed.")
class CalendarLinkProblem(Enum):
    CONFLICT = "conflict"
    PERMISSION_MISSING = "permission_missing"
    DECLINED = "declined"
    PROVIDER_ERROR = "provider_error"
    INTEGRATION_CHANGED = "integration_changed"


@strawberry.type(description="The caller's latest calendar link attempt (startCalendarLink).")
class CalendarLinkAttempt:
    provider: CalendarProvider
    status: CalendarLinkStatus = strawberry.field(
        description="WAITING_FOR_BROWSER until the starting user signs in on the start page; "
        "AT_PROVIDER while that browser is on the provider's consent page."
    )
    expires_at: datetime
    calendar_email: str | None = strawberry.field(description="The calendar linked, once LINKED.")
    problem: CalendarLinkProblem | None = strawberry.field(
        description="Why it FAILED; CONFLICT: that calendar is linked in another place already."
    )
    message: str | None = strawberry.field(description="What the browser was told, for a person.")

    @staticmethod
    def from_row(row: AttemptRow) -> CalendarLinkAttempt:
        if row.outcome is not None:
            status = CalendarLinkStatus(row.outcome)
        elif row.expired:
            status = CalendarLinkStatus.EXPIRED
        elif row.proven_at is not None:
            status = CalendarLinkStatus.AT_PROVIDER
        else:
            status = CalendarLinkStatus.WAITING_FOR_BROWSER
        return CalendarLinkAttempt(
            provider=CalendarProvider(row.provider),
            status=status,
            expires_at=row.expires_at,
            calendar_email=row.calendar_email,
            problem=CalendarLinkProblem(row.problem) if row.problem else None,
            message=row.message,
        )


@strawberry.type
class StartCalendarLinkPayload:
    authorization_url: str = strawberry.field(
        description="Open in the browser of the user who started the link (it asks for their "
        "Chronik API token unless the live page signed them in there): it leads to the "
        "provider's consent page. Completed in anyone else's browser, it links nothing."
    )
    expires_at: datetime


@strawberry.enum(description="How a person links a calendar of a provider.")
class CalendarLinkMethod(Enum):
    OAUTH = "oauth"
    CREDENTIALS = "credentials"


@strawberry.type(description="A value a person types to link a calendar.")
class CredentialField:
    name: str = strawberry.field(description="Its `name` in `linkCalendarWithCredentials`.")
    label: str
    secret: bool = strawberry.field(description="A password: masked, and stored encrypted.")


@strawberry.type(description="A calendar provider this server knows.")
class CalendarProviderInfo:
    provider: CalendarProvider
    label: str = strawberry.field(description="Its name, as people know it.")
    configured: bool = strawberry.field(
        description="Whether this server is set up for it (only then can it be installed)."
    )
    link_method: CalendarLinkMethod = strawberry.field(
        description="OAUTH: startCalendarLink (the provider's sign-in page); CREDENTIALS: "
        "linkCalendarWithCredentials with `credentialFields`."
    )
    credential_fields: list[CredentialField]


@strawberry.input(description="One typed value of `linkCalendarWithCredentials`.")
class CredentialInput:
    name: str
    value: str


@strawberry.type
class ConnectionQueries:
    @strawberry.field(
        description="The calendar providers this server knows, and how each links.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def calendar_providers(self, info: ChronikInfo) -> list[CalendarProviderInfo]:
        offers = []
        for offer in resolve.providers(info.context):
            linking = offer.spec.linking
            typed = isinstance(linking, CredentialLinking)
            offers.append(
                CalendarProviderInfo(
                    provider=CalendarProvider(offer.spec.name),
                    label=offer.spec.label,
                    configured=offer.configured,
                    link_method=CalendarLinkMethod.CREDENTIALS
                    if typed
                    else CalendarLinkMethod.OAUTH,
                    credential_fields=[
                        CredentialField(name=f.name, label=f.label, secret=f.secret)
                        for f in (linking.fields if isinstance(linking, CredentialLinking) else ())
                    ],
                )
            )
        return offers

    @strawberry.field(
        description="The caller's calendar connection, if any.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def calendar_connection(self, info: ChronikInfo) -> CalendarConnection | None:
        row = await resolve.my_connection(info.context)
        return CalendarConnection.from_row(row) if row else None

    @strawberry.field(
        description="The caller's latest calendar link attempt, if any.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def calendar_link_attempt(self, info: ChronikInfo) -> CalendarLinkAttempt | None:
        row = await resolve.my_link_attempt(info.context)
        return CalendarLinkAttempt.from_row(row) if row else None

    @strawberry.field(
        description="Every calendar connection of the account (admins only).",
        extensions=guarded_by(AdminOnly("see every calendar connection of the account")),
    )
    async def calendar_connections(self, info: ChronikInfo) -> list[CalendarConnection]:
        return [
            CalendarConnection.from_row(r) for r in await resolve.account_connections(info.context)
        ]


@strawberry.type
class ConnectionMutations:
    @strawberry.mutation(
        description="Choose the account's calendar provider (admins only).",
        extensions=guarded_by(AdminOnly("install a calendar integration")),
    )
    async def install_calendar_integration(
        self, info: ChronikInfo, provider: CalendarProvider
    ) -> Account:
        row = await resolve.install_integration(info.context, registry.spec(provider.value))
        return Account.from_row(row)

    @strawberry.mutation(
        description="Disconnect every calendar of the account and remove "
        "the integration (admins only).",
        extensions=guarded_by(AdminOnly("uninstall the calendar integration")),
    )
    async def uninstall_calendar_integration(self, info: ChronikInfo) -> Account:
        return Account.from_row(await resolve.uninstall_integration(info.context))

    @strawberry.mutation(
        description="Begin linking the caller's primary calendar.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def start_calendar_link(
        self, info: ChronikInfo, provider: CalendarProvider, login_hint: str | None = None
    ) -> StartCalendarLinkPayload:
        started = await resolve.start_link(info.context, registry.spec(provider.value), login_hint)
        return StartCalendarLinkPayload(
            authorization_url=started.authorization_url, expires_at=started.expires_at
        )

    @strawberry.mutation(
        description="Link the caller's primary calendar of a provider that links with typed "
        "credentials (`calendarProviders`' `credentialFields`, each given once): checked with "
        "the provider at once, stored encrypted, synced next.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def link_calendar_with_credentials(
        self, info: ChronikInfo, provider: CalendarProvider, credentials: list[CredentialInput]
    ) -> CalendarConnection:
        row = await resolve.link_with_credentials(
            info.context,
            registry.spec(provider.value),
            [(given.name, given.value) for given in credentials],
        )
        return CalendarConnection.from_row(row)

    @strawberry.mutation(
        description="Sync the caller's calendar now (queued, not waited for).",
        extensions=guarded_by(OwnCalendar()),
    )
    async def sync_calendar_now(self, info: ChronikInfo) -> CalendarConnection:
        return CalendarConnection.from_row(await sync_now(info.context))

    @strawberry.mutation(
        description="Unlink the caller's calendar; its meetings stay.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def disconnect_calendar(self, info: ChronikInfo) -> CalendarConnection:
        return CalendarConnection.from_row(await resolve.disconnect(info.context))
