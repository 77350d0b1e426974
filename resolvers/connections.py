"""Calendar integration and links: install, link, read, disconnect — within the caller's account.

Who may call what is checked before these run (schema/permissions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db import accounts as accounts_db
from db import connections as connections_db
from db.accounts import AccountRow
from db.connections import ConnectionRow
from db.link_states import AttemptRow
from resolvers.accounts import account as caller_account
from resolvers.context import Context
from resolvers.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from resolvers.validation import normalize_email, plain_text
from sync.linking import LinkError, LinkProblem, StartedLink
from sync.providers import registry
from sync.providers.spec import CredentialLinking, OAuthLinking, ProviderSpec


@dataclass(frozen=True)
class ProviderOffer:
    """A registered provider as this server offers it."""

    spec: ProviderSpec
    configured: bool


def providers(ctx: Context) -> list[ProviderOffer]:
    """Every registered provider, and whether this server is configured for it."""
    return [ProviderOffer(spec, spec.name in ctx.services.apps) for spec in registry.specs()]


def _require_configured(ctx: Context, provider: ProviderSpec) -> None:
    if provider.name not in ctx.services.apps:
        raise PreconditionFailed(
            f"{provider.label} is not configured on this Chronik server; ask its operator."
        )


async def install_integration(ctx: Context, provider: ProviderSpec) -> AccountRow:
    """Choose the account's calendar provider (idempotent); `CONFLICT` while another one is
    installed — an account syncs with one provider, never two."""
    viewer = await ctx.viewer()
    _require_configured(ctx, provider)
    if not await accounts_db.install_integration(ctx.pool, viewer.account_id, provider.name):
        current = await caller_account(ctx)
        other = registry.spec(current.integration_provider or provider.name)
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


async def _require_installed(ctx: Context, provider: ProviderSpec) -> None:
    account = await caller_account(ctx)
    if account.integration_provider is None:
        raise PreconditionFailed(
            "No calendar integration is installed for this account: an admin must install "
            "one first (installCalendarIntegration)."
        )
    if account.integration_provider != provider.name:
        installed = registry.spec(account.integration_provider)
        raise Conflict(f"This account uses {installed.label}; link a {installed.label} calendar.")
    _require_configured(ctx, provider)


async def start_link(ctx: Context, provider: ProviderSpec, login_hint: str | None) -> StartedLink:
    viewer = await ctx.viewer()
    await _require_installed(ctx, provider)
    if not isinstance(provider.linking, OAuthLinking):
        raise PreconditionFailed(
            f"{provider.label} links with the credentials you type, not through a sign-in "
            "page: use linkCalendarWithCredentials."
        )
    hint = normalize_email(login_hint, field="loginHint") if login_hint else None
    return await ctx.services.linker.start(
        user_id=viewer.user_id, provider=provider.name, login_hint=hint
    )


def _credential_values(
    linking: CredentialLinking, given: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """The typed values by field name: every field of the provider once, nothing else."""
    fields = {f.name: f for f in linking.fields}
    values: dict[str, str] = {}
    for name, value in given:
        field = fields.get(name)
        if field is None:
            expected = ", ".join(fields)
            raise ValidationFailed(
                f"credentials: no field {name!r} (this provider asks for {expected})",
                field="credentials",
            )
        path = f"credentials.{name}"
        if name in values:
            raise ValidationFailed(f"{path}: given twice", field=path)
        if not value.strip() or len(value) > field.max_length:
            raise ValidationFailed(
                f"{path}: {field.label} must be 1 to {field.max_length} characters", field=path
            )
        values[name] = plain_text(value, field=path)
    missing = [f for f in linking.fields if f.name not in values]
    if missing:
        path = f"credentials.{missing[0].name}"
        raise ValidationFailed(f"{path}: {missing[0].label} is required", field=path)
    return values


async def link_with_credentials(
    ctx: Context, provider: ProviderSpec, given: Sequence[tuple[str, str]]
) -> ConnectionRow:
    """Link the caller's calendar of a provider that links with typed credentials: checked
    with the provider at once, stored encrypted, synced next. `PRECONDITION_FAILED` when the
    provider refuses them (the message says why) or links through a sign-in page instead."""
    viewer = await ctx.viewer()
    await _require_installed(ctx, provider)
    linking = provider.linking
    if not isinstance(linking, CredentialLinking):
        raise PreconditionFailed(
            f"{provider.label} links through its sign-in page: use startCalendarLink."
        )
    values = _credential_values(linking, given)
    try:
        return await ctx.services.linker.link_with_credentials(
            account_id=viewer.account_id,
            user_id=viewer.user_id,
            provider=provider.name,
            values=values,
        )
    except LinkError as exc:
        if exc.problem is LinkProblem.CONFLICT:
            raise Conflict(str(exc)) from None
        field = {"field": f"credentials.{exc.field}"} if exc.field else {}
        raise PreconditionFailed(
            str(exc), reason=exc.problem.value if exc.problem else None, **field
        ) from None


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
