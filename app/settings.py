"""Chronik's settings: every knob is a `CHRONIK_*` environment variable (or a line in `.env`)."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError
from strawberry.http.websocket_origin import normalize_allowed_origins

from sync.providers import registry
from sync.providers.spec import ProviderSettings

ENV_PREFIX = "CHRONIK_"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(Exception):
    """Raised when the environment holds a setting Chronik cannot use; the message names it."""


# Listening on these means every interface; none of them is an address to put in a link.
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEVELOPMENT
    # Unset: Chronik runs an embedded PostgreSQL (pgserver) inside `data_dir`.
    database_url: str | None = None
    # A relative path is resolved against the working directory once, at start (every
    # command prints the result), so nothing later depends on where a process runs.
    data_dir: Path = Field(default=Path(".chronik"), validate_default=True)
    # Unset outside production: generated once and kept in `data_dir/secret_key`.
    secret_key: SecretStr | None = None
    public_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    # Old secret keys, still accepted for decrypting provider tokens after a rotation.
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # Other origins whose pages may call `/graphql` (CORS, and websockets from their pages);
    # `*` for any. Comma-separated; none by default. Credentials are never allowed (callers
    # sign in with a token header, not cookies).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Where a browser lands after linking a calendar (default: the public URL's root page).
    link_success_url: str | None = None

    # Each registered provider's own settings (its spec's class, read from the environment
    # under its own prefix: `CHRONIK_GOOGLE_CLIENT_ID`, `CHRONIK_SANDBOX_GOOGLE_PORT` ...), by
    # provider name. Given here (tests), a provider's entry may be a dict of its fields; the
    # environment fills in the rest.
    providers: dict[str, Any] = Field(default_factory=dict, exclude=True)
    # Sync: `chronik serve` runs a worker in-process unless turned off (then run
    # `chronik worker` processes); polling catches changes whose push was lost.
    run_worker: bool = True
    worker_concurrency: int = Field(default=4, ge=1)
    # How many of those syncs decide and write a page at the same moment (the rest wait for
    # their providers meanwhile); see `EngineSettings.pages_at_once`.
    worker_pages_at_once: int = Field(default=1, ge=1)
    # How many pages all workers of the deployment write at once (0: no limit), so that a day
    # of first syncs leaves the database room for the API's queries (db/write_slots.py).
    # Raise it with the database's cores: one is enough to keep two cores' worth of workers
    # busy deciding pages while one of them writes.
    sync_pages_at_once: int = Field(default=1, ge=0)
    # `chronik worker` lowers its CPU priority by this much (nice): syncing is background
    # work, and a person waiting for a timeline should not queue behind a day of first syncs.
    worker_nice: int = Field(default=10, ge=0, le=19)
    sync_poll_seconds: float = Field(default=300.0, gt=0)
    # A full round of every calendar this often (0: never) removes what the providers' deltas
    # could not report; weekly by default.
    sync_reconcile_seconds: float = Field(default=7 * 24 * 3600.0, ge=0)
    # How long a worker's claim on a connection lasts without progress (a dead worker's
    # connections are taken over after this); every committed page renews it.
    sync_lease_seconds: float = Field(default=60.0, gt=0)
    # Pushes that arrive while a calendar syncs make one follow-up run, once they have been
    # quiet this long (a burst, or a replayed notification, costs one run) ...
    sync_push_quiet_seconds: float = Field(default=2.0, ge=0)
    # ... or this long after the first of them, when they keep coming.
    sync_push_max_wait_seconds: float = Field(default=30.0, ge=0)
    # The most change-feed pages one sync run reads before it stops (cursor saved) and lets
    # the connection go: a feed that never ends (Graph repeating pages) cannot hold a worker.
    sync_max_pages_per_run: int = Field(default=2000, ge=1)
    # The timeline change log and scheduling idempotency keys are kept this many days, then
    # pruned by the sync workers (in small batches, hourly) so the tables stay bounded.
    retention_days: float = Field(default=30.0, gt=0)
    # Addresses at these domains are never logged (besides the account's own domains and the
    # providers' rooms and resources, which each provider's spec names): e.g. the service's
    # own mailers.
    excluded_email_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Events a live subscriber may lag behind before it is closed as too slow.
    subscription_queue_size: int = Field(default=256, ge=1)
    # Websockets (uvicorn): the protocol implementation, wsproto by default (an idle connection
    # costs ~3 KB less than with `websockets`, which keeps the handshake's parsed headers), and
    # permessage-deflate, off by default: its zlib state costs every idle connection far more
    # memory than the tiny subscription messages save in bytes (see bench/RESULTS.md,
    # "Live fan-out").
    ws_implementation: Literal["auto", "websockets", "websockets-sansio", "wsproto"] = "wsproto"
    ws_per_message_deflate: bool = False
    # Largest message a client may send on a websocket (subscribe messages are small).
    ws_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Operations (subscriptions, queries, mutations) one websocket may run at once; a further
    # one is refused (TOO_MANY_OPERATIONS) while the others go on.
    ws_max_operations: int = Field(default=100, ge=1)
    # Output one websocket may have waiting for a client that does not read (beyond the
    # server's 64 KiB socket buffer), and how long it may wait without the client taking any;
    # past either the client is closed (4413) and its memory freed.
    ws_max_waiting_bytes: int = Field(default=1024 * 1024, ge=1024)
    ws_send_timeout_seconds: float = Field(default=20.0, gt=0)
    # Seconds a websocket may stay open without `connection_init` (both protocols; 4408).
    ws_init_timeout_seconds: float = Field(default=60.0, gt=0)
    # What one request may ask: GraphQL depth, tokens and aliases, and HTTP body bytes.
    graphql_max_depth: int = Field(default=12, ge=1)
    graphql_max_tokens: int = Field(default=5000, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=0)
    # The most nodes (objects) one operation may return at worst, estimated before it runs
    # (app/query_shape.py): a timeline page of 50 meetings with attendees and their contacts
    # estimates ~5,200.
    graphql_max_nodes: int = Field(default=50_000, ge=1)
    # Each account's budget of query cost (points = estimated nodes, at least 1 a query),
    # per API process: at most `points` at once, refilled continuously over `window_seconds`
    # (the default: 10,000 points a second, two timeline pages with their attendees' contacts;
    # bursts of 50,000, one query at the node limit: two at once cost the other tenants more,
    # see bench/RESULTS.md, "Hostile documents and one tenant's flood").
    graphql_budget_points: int = Field(default=50_000, ge=1)
    graphql_budget_window_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # `json`: one JSON object per log line (the default in production); `text`: readable.
    log_format: Literal["json", "text"] | None = None
    # `/metrics` of `chronik serve` answers only `Authorization: Bearer <this token>` when set;
    # unset, it is open outside production and refused in production.
    metrics_token: SecretStr | None = None
    # `chronik worker` serves its Prometheus metrics on this port (all interfaces) when set,
    # under `metrics_token` as `/metrics` is.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Where `chronik serve` runs the sandboxes of providers configured with neither an app
    # nor a sandbox URL (each on its provider's port setting).
    sandbox_host: str = "127.0.0.1"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _hard_to_guess(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator(
        "previous_secret_keys", "excluded_email_domains", "cors_origins", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        """Each as browsers send it (`https://Example.com:443` → `https://example.com`)."""
        try:
            return sorted(normalize_allowed_origins([part.strip() for part in value]))
        except ValueError as exc:
            raise ValueError(str(exc).replace("allowed_origins", "the list")) from None

    @field_validator("providers", mode="before")
    @classmethod
    def _not_from_the_environment(cls, value: object) -> object:
        # `CHRONIK_PROVIDERS` is no setting: each provider reads its own variables.
        return value if isinstance(value, dict) else {}

    @model_validator(mode="after")
    def _every_provider_read(self) -> Settings:
        """Each registered provider's settings, read under its prefix; an invalid one names
        its variable (an unknown provider given here is an error)."""
        given = self.providers
        unknown = sorted(set(given) - set(registry.names()))
        if unknown:
            raise ValueError(f"no calendar provider named {', '.join(map(repr, unknown))}")
        read: dict[str, ProviderSettings] = {}
        problems: list[str] = []
        for spec in registry.specs():
            value = given.get(spec.name)
            if isinstance(value, spec.settings):
                read[spec.name] = value
                continue
            try:
                read[spec.name] = spec.settings(**(value or {}))
            except ValidationError as exc:
                problems.extend(_named(spec.settings, error) for error in exc.errors())
        if problems:
            raise ValueError("; ".join(problems))
        self.providers = read
        return self

    def provider(self, name: str) -> Any:
        """The settings of the provider `name` (its spec's class)."""
        return self.providers[name]

    @model_validator(mode="after")
    def _budget_fits_a_query(self) -> Settings:
        if self.graphql_budget_points < self.graphql_max_nodes:
            raise ValueError(
                f"{ENV_PREFIX}GRAPHQL_BUDGET_POINTS must be at least {ENV_PREFIX}GRAPHQL_MAX_NODES"
                " (a query within the node limit must fit in the budget)"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    def resolved_secret_key(self) -> str:
        """The secret key: the configured one, or (outside production) one generated once.

        The generated key is written to `data_dir/secret_key` with mode 0600 and read back on
        every later start, so tokens encrypted with it stay readable across restarts.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.is_production:
            raise SettingsError(f"{ENV_PREFIX}SECRET_KEY: required when {ENV_PREFIX}ENV=production")
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for a server listening on `host:port`.

        Unless `CHRONIK_PUBLIC_URL` was set, links (OAuth redirects, push addresses, the
        timeline page) point where the server listens; a wildcard host (all interfaces)
        keeps the public URL's host. A set public URL is kept as it is: behind a proxy it
        rightly differs from the listening address.
        """
        if "public_url" in self.model_fields_set:
            return self
        public_host = (self.public_url.host or "127.0.0.1") if host in _WILDCARDS else host
        if ":" in public_host and not public_host.startswith("["):
            public_host = f"[{public_host}]"  # an IPv6 literal
        url = AnyHttpUrl(f"{self.public_url.scheme}://{public_host}:{port}")
        return self.model_copy(update={"public_url": url})

    def previous_keys(self) -> list[str]:
        return [key.get_secret_value() for key in self.previous_secret_keys]


def _named(settings: type[ProviderSettings], error: Any) -> str:
    """A provider setting's problem, named by its environment variable."""
    field = ".".join(str(part) for part in error["loc"])
    prefix = str(settings.model_config.get("env_prefix", ""))
    variable = field.upper() if field.upper().startswith(ENV_PREFIX) else prefix + field.upper()
    return f"{variable}: {error['msg']}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; raise `SettingsError` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            # A check across settings has no location; its message names the variables.
            if field:
                problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
            else:
                problems.append(error["msg"].removeprefix("Value error, "))
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
    except SourceError as exc:  # a value the environment source could not even parse
        raise SettingsError(f"invalid settings: {str(exc).replace('field ', ENV_PREFIX)}") from None
