"""Calendar integration and links: install, link, read, disconnect — within the caller's account.

Who may call what is checked before these run (schema/permissions.py).
"""

from __future__ import annotations

from db import accounts as accounts_db
from db import connections as connections_db
from db.accounts import AccountRow
from db.connections import ConnectionRow
from db.link_states import AttemptRow
from resolvers.accounts import account as caller_account
from resolvers.context import Context
from resolvers.errors import Conflict, NotFound, PreconditionFailed
from resolvers.validation import normalize_email
from sync.linking import StartedLink
from sync.provider import ProviderName


def _require_configured(ctx: Context, provider: ProviderName) -> None:
    if provider not in ctx.services.apps:
        raise PreconditionFailed(
            f"{provider.label} is not configured on this Chronik server; ask its operator."
        )


async def install_integration(ctx: Context, provider: ProviderName) -> AccountRow:
    """Choose the account's calendar provider (idempotent); `CONFLICT` while the other one is
    installed — an account syncs with Google or Microsoft, never both."""
    viewer = await ctx.viewer()
    _require_configured(ctx, provider)
    if not await accounts_db.install_integration(ctx.pool, viewer.account_id, provider.value):
        current = await caller_account(ctx)
        other = ProviderName(current.integration_provider or provider.value)
        raise Conflict(
            f"This account already uses {other.label}. Uninstall it before installing "
            f"{provider.label}."
        )
    return await caller_account(ctx)


async def uninstall_integration(ctx: Context) -> AccountRow:
    """Disconnect every user's calendar of the account, then remove the integration."""
    viewer = await ctx.viewer()
    for row in await connections_db.connections_for_account(ctx.pool, viewer.account_id):
        if row.status != "disconnected":
            await ctx.services.linker.disconnect(row)
    await accounts_db.uninstall_integration(ctx.pool, viewer.account_id)
    return await caller_account(ctx)


async def start_link(ctx: Context, provider: ProviderName, login_hint: str | None) -> StartedLink:
    viewer = await ctx.viewer()
    account = await caller_account(ctx)
    if account.integration_provider is None:
        raise PreconditionFailed(
            "No calendar integration is installed for this account: an admin must install "
            "Google Calendar or Microsoft 365 first (installCalendarIntegration)."
        )
    if account.integration_provider != provider.value:
        installed = ProviderName(account.integration_provider)
        raise Conflict(f"This account uses {installed.label}; link a {installed.label} calendar.")
    _require_configured(ctx, provider)
    hint = normalize_email(login_hint, field="loginHint") if login_hint else None
    return await ctx.services.linker.start(
        user_id=viewer.user_id, provider=provider, login_hint=hint
    )


async def my_connection(ctx: Context) -> ConnectionRow | None:
    viewer = await ctx.viewer()
    return await connections_db.connection_for_user(ctx.pool, viewer.user_id)


async def my_link_attempt(ctx: Context) -> AttemptRow | None:
    """The caller's most recent link attempt: how far it got, or why it failed."""
    viewer = await ctx.viewer()
    return await ctx.services.linker.latest_attempt(viewer.user_id)


async def account_connections(ctx: Context) -> list[ConnectionRow]:
    viewer = await ctx.viewer()
    return await connections_db.connections_for_account(ctx.pool, viewer.account_id)


async def disconnect(ctx: Context) -> ConnectionRow:
    """Disconnect the caller's calendar: tokens revoked and forgotten, meetings kept."""
    viewer = await ctx.viewer()
    row = await connections_db.connection_for_user(ctx.pool, viewer.user_id)
    if row is None or row.status == "disconnected":
        raise NotFound("You have no linked calendar.")
    await ctx.services.linker.disconnect(row)
    updated = await connections_db.connection_by_id(ctx.pool, row.id)
    assert updated is not None
    return updated
