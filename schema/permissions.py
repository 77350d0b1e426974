"""Who may call what: one permission class per rule of the authorization table.

Every root field (query, mutation, subscription) is guarded by exactly one rule (`guarded_by`),
checked before its resolver runs. A rule says what it grants each kind of caller (`member`,
`admin`: on their own data, on a colleague's) and `allows` enforces exactly that;
docs/authorization.md is rendered from these declarations (`python -m schema.authorization`)
and tests/schema/test_authorization.py calls every row as every kind of caller.

A caller of another account never gets here with a real object: every id is read within the
caller's account, so another account's ids answer NOT_FOUND (tests/security/
test_tenant_isolation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from resolvers.context import Context, Viewer
from resolvers.errors import Forbidden
from resolvers.meetings import Whose, whose_meeting
from resolvers.nodes import colleagues_connections
from schema.ids import decode_id, parse_id

ChronikInfo = Info[Context, None]


class Outcome(Enum):
    ALLOWED = "yes"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # Nothing to tell apart: the operation acts on the caller's own things or on the account's
    # shared data, and no argument can name a colleague's.
    NOT_APPLICABLE = "—"


@dataclass(frozen=True)
class Grants:
    """What a rule grants a member and an admin: on their own data, on a colleague's (and a
    caller without a valid token: nothing)."""

    member_own: Outcome
    member_colleagues: Outcome
    admin_own: Outcome
    admin_colleagues: Outcome
    anonymous: Outcome = Outcome.UNAUTHENTICATED


@dataclass(frozen=True)
class Variant:
    """The same operation with arguments that change what it may do (its own table row)."""

    arguments: dict[str, Any]  # GraphQL argument name -> value
    grants: Grants


YES, NO, NA = Outcome.ALLOWED, Outcome.FORBIDDEN, Outcome.NOT_APPLICABLE


class Rule(BasePermission):
    """A rule of the table. Without a valid token every rule answers UNAUTHENTICATED."""

    # Whose data the operations under this rule touch, in a sentence (the table's legend).
    data: ClassVar[str]
    grants: ClassVar[Grants]
    # Further rows: the same operation with other arguments (e.g. a destructive flag).
    variants: ClassVar[tuple[Variant, ...]] = ()
    error_class = Forbidden
    message = "You may not do this."

    async def has_permission(self, source: Any, info: ChronikInfo, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()  # Unauthenticated without a valid token
        return await self.allows(info.context, viewer, kwargs)

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        raise NotImplementedError


class AnyUser(Rule):
    data = (
        "the caller, or the account's shared records: its contacts, its companies and their "
        "timelines, which any user may read, create, change or delete (a CRM's records belong "
        "to the team)"
    )
    grants = Grants(YES, NA, YES, NA)

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        return True


class OwnCalendar(Rule):
    data = (
        "the caller's own linked calendar; no argument can name a colleague's (an admin sees "
        "every connection through `calendarConnections`)"
    )
    grants = Grants(YES, NA, YES, NA)

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        return True


class AdminOnly(Rule):
    data = "the account's settings, its calendar integration, every user's calendar connection"
    grants = Grants(NO, NA, YES, NA)

    def __init__(self, action: str) -> None:
        self.message = f"Only an account admin can {action}."

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        return viewer.is_admin


class AccountMeetings(Rule):
    data = (
        "meetings of every calendar of the account: timelines are shared in a CRM, so a "
        "colleague's synced meeting is readable by all"
    )
    grants = Grants(YES, YES, YES, YES)

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        return True


class AccountObjects(Rule):
    data = (
        "any object of the account named by its global id (`node`, `nodes`): contacts, "
        "meetings and timeline entries are shared; a calendar connection is its owner's, or "
        "any admin's to see (as in `calendarConnections`)"
    )
    grants = Grants(YES, NO, YES, YES)
    message = "Only an account admin can see a colleague's calendar connection."

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        ids = arguments.get("ids") or [arguments.get("id")]
        parsed = [parse_id(i) for i in ids if isinstance(i, str)]
        connections = [p[1] for p in parsed if p is not None and p[0] == "CalendarConnection"]
        return not await colleagues_connections(ctx, connections)


class _OfAMeeting(Rule):
    """A rule about the meeting named by an argument (`id` unless a rule says otherwise)."""

    argument: ClassVar[str] = "id"  # the resolver's (Python) argument name

    async def allows(self, ctx: Context, viewer: Viewer, arguments: dict[str, Any]) -> bool:
        meeting_id = arguments.get(self.argument)
        if meeting_id is None:
            return True  # no meeting named: the operation acts on the caller's own calendar
        whose = await whose_meeting(ctx, decode_id("Meeting", meeting_id))
        if whose is None:
            return True  # nothing to guard: the resolver answers NOT_FOUND
        return self.allows_meeting(viewer, whose, arguments)

    def allows_meeting(self, viewer: Viewer, whose: Whose, arguments: dict[str, Any]) -> bool:
        raise NotImplementedError


class OwnMeeting(_OfAMeeting):
    data = (
        "a meeting of the caller's own calendar (or one they scheduled): the change is made "
        "with its owner's calendar link and the invitations go out in their name, so not even "
        "an admin changes a colleague's"
    )
    grants = Grants(YES, NO, YES, NO)
    message = "Only meetings in your own linked calendar can be changed from Chronik."

    def allows_meeting(self, viewer: Viewer, whose: Whose, arguments: dict[str, Any]) -> bool:
        return whose is Whose.OWN


class OwnCalendarEvent(_OfAMeeting):
    data = (
        "an event of the caller's own linked calendar, named by its link or id there or by "
        "`meetingId`: it is read with the owner's calendar link, so not even an admin reads a "
        "colleague's calendar through it"
    )
    grants = Grants(YES, NO, YES, NO)
    argument = "meeting_id"
    message = "Only events of your own linked calendar can be explained."

    def allows_meeting(self, viewer: Viewer, whose: Whose, arguments: dict[str, Any]) -> bool:
        return whose is Whose.OWN


class RemovableMeeting(_OfAMeeting):
    data = (
        "a meeting of the caller's own calendar (or one they scheduled); an admin may also "
        "remove a colleague's from Chronik (a wrongly logged meeting, a privacy request), but "
        "only its owner can delete the calendar event too"
    )
    grants = Grants(YES, NO, YES, YES)
    variants = (Variant({"alsoDeleteCalendarEvent": True}, Grants(YES, NO, YES, NO)),)
    message = (
        "Only meetings in your own linked calendar, or that you scheduled, can be deleted; an "
        "admin can remove a colleague's meeting from Chronik but not from their calendar."
    )

    def allows_meeting(self, viewer: Viewer, whose: Whose, arguments: dict[str, Any]) -> bool:
        if whose is Whose.OWN:
            return True
        return viewer.is_admin and not arguments.get("also_delete_calendar_event", False)


def guarded_by(rule: Rule) -> list[FieldExtension]:
    """The field extensions that check `rule` before the field resolves (without adding a
    schema directive per rule to the SDL)."""
    return [PermissionExtension([rule], use_directives=False)]


def rule_of(extensions: list[FieldExtension]) -> Rule | None:
    """The rule a field is guarded by, if any."""
    for extension in extensions:
        if isinstance(extension, PermissionExtension):
            for permission in extension.permissions:
                if isinstance(permission, Rule):
                    return permission
    return None
