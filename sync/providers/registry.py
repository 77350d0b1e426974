"""The calendar providers this Chronik knows: one `ProviderSpec` per provider package.

The built-in providers are imported on first use (a provider package imports the sync
modules its push verifier needs, which may import this module's users); `register` adds one
more, before the schema is built (the GraphQL provider enum is derived from this list when
`schema.enums` is imported) and before services start. An unknown name is an error
(`UnknownProvider`), never a fallback to another provider.
"""

from __future__ import annotations

import importlib
import re

from sync.providers.spec import ProviderSpec

# Each module exports `SPEC`; their order is the order pages and enums list them in.
BUILT_IN = (
    "sync.providers.google.spec",
    "sync.providers.microsoft.spec",
    "sync.providers.caldav.spec",
)

# Stored in the database (text columns, FK'd to calendar_providers), part of URLs and of
# environment variable names; 'crm' is the source of meetings Chronik itself created.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_RESERVED = frozenset({"crm"})

_specs: dict[str, ProviderSpec] = {}


class UnknownProvider(LookupError):
    """No registered provider has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no calendar provider named {name!r} is registered")
        self.name = name


def _loaded() -> dict[str, ProviderSpec]:
    if not _specs:
        for module in BUILT_IN:
            _add(importlib.import_module(module).SPEC)
    return _specs


def _add(spec: ProviderSpec) -> None:
    if not _NAME.fullmatch(spec.name) or spec.name in _RESERVED:
        raise ValueError(f"{spec.name!r} cannot name a provider (lower-case letters, digits, _)")
    if spec.name in _specs:
        raise ValueError(f"a provider named {spec.name!r} is registered already")
    _specs[spec.name] = spec


def register(spec: ProviderSpec) -> ProviderSpec:
    """Add a provider after the built-in ones; `ValueError` for a taken or unusable name."""
    _loaded()
    _add(spec)
    return spec


def specs() -> list[ProviderSpec]:
    """Every registered provider, built-in ones first."""
    return list(_loaded().values())


def never_people_domains() -> frozenset[str]:
    """Every registered provider's domains of addresses that are never people."""
    return frozenset(
        domain.lower() for spec in _loaded().values() for domain in spec.never_people_domains
    )


def names() -> list[str]:
    return list(_loaded())


def spec(name: str) -> ProviderSpec:
    """The provider named `name`; `UnknownProvider` when none is."""
    try:
        return _loaded()[name]
    except KeyError:
        raise UnknownProvider(name) from None
