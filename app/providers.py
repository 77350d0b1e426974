"""Which provider endpoints this deployment uses: the real ones, or the local sandboxes."""

from __future__ import annotations

from collections.abc import Mapping

from app.settings import Settings
from sync.providers import registry
from sync.providers.spec import ProviderApp, ProviderSpec


def sandbox_wanted(settings: Settings) -> list[ProviderSpec]:
    """Providers with a sandbox, configured with neither an app nor a sandbox URL:
    `chronik serve` runs their sandboxes."""
    return [
        spec
        for spec in registry.specs()
        if spec.sandbox is not None and spec.sandbox.wanted(settings.provider(spec.name))
    ]


def sandbox_ports(settings: Settings) -> list[tuple[ProviderSpec, int]]:
    """Each wanted sandbox's provider and the port `chronik serve` runs it on."""
    return [
        (spec, spec.sandbox.port(settings.provider(spec.name)))
        for spec in sandbox_wanted(settings)
        if spec.sandbox is not None
    ]


def provider_apps(
    settings: Settings, local_sandboxes: Mapping[str, str] | None = None
) -> dict[str, ProviderApp]:
    """Each configured provider's app, by name, as its spec makes it from its settings and
    the URL of the sandbox `chronik serve` started for it (if any). Providers that are not
    configured are left out: linking them is refused as "not configured"."""
    local = dict(local_sandboxes or {})
    apps: dict[str, ProviderApp] = {}
    for spec in registry.specs():
        app = spec.configure(settings.provider(spec.name), local.get(spec.name))
        if app is not None:
            apps[spec.name] = app
    return apps
