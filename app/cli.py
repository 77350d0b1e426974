"""The `chronik` command: serve, migrate, user create, token, worker, sync, explain, sandbox,
export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from app.lifetime import process_lifetime
from app.settings import Settings, SettingsError, load_settings
from app.token_commands import add_token_commands
from sync.providers.spec import ProviderSpec
from telemetry.logs import configure_logging, wants_json

log = logging.getLogger("chronik")


def _port_number(text: str) -> int:
    """An argparse type: a TCP port, 1-65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def _refuse_busy_ports(ports: list[tuple[str, int, str]]) -> bool:
    """Print one line per busy `(host, port, setting)`; True when any was busy."""
    from app.ports import port_in_use

    busy = [problem for h, p, s in ports if (problem := port_in_use(h, p, s))]
    for problem in busy:
        print(f"chronik: {problem}", file=sys.stderr)
    return bool(busy)


def _sandbox_ports(settings: Settings) -> list[tuple[str, int, str]]:
    """The ports `serve` runs its own sandboxes on (none for providers configured otherwise)."""
    from app.providers import sandbox_ports

    host = settings.sandbox_host
    return [
        (host, port, spec.sandbox.port_variable)
        for spec, port in sandbox_ports(settings)
        if spec.sandbox is not None
    ]


def _sandboxed_providers() -> list[ProviderSpec]:
    from sync.providers import registry

    return [spec for spec in registry.specs() if spec.sandbox is not None]


def _links_miss(settings: Settings, host: str, port: int) -> bool:
    """Whether a set public URL names this machine, but another port: a proxy may forward
    it, but more often a `.env` and a `--port` disagree."""
    local = {"127.0.0.1", "localhost", "::1", "[::1]", host}
    return settings.public_url.host in local and settings.public_url.port != port


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from app.asgi import create_app

    host = args.host or settings.public_url.host or "127.0.0.1"
    port = args.port or settings.public_url.port or 8000
    if args.port:
        port_setting = "--port"
    elif "public_url" in settings.model_fields_set:
        port_setting = "CHRONIK_PUBLIC_URL's port; --port overrides it"
    else:
        port_setting = "the default; choose another with --port"
    settings = settings.served_at(host, port)
    if _refuse_busy_ports([(host, port, port_setting), *_sandbox_ports(settings)]):
        return 1
    log.info("public URL (links, OAuth redirects): %s", settings.public_url)
    if _links_miss(settings, host, port):
        log.warning(
            "CHRONIK_PUBLIC_URL %s is not where this server listens (%s:%s): links and OAuth "
            "redirects will not reach it unless a proxy forwards them",
            settings.public_url,
            host,
            port,
        )
    app = create_app(settings, migrate=not args.no_migrate)
    # With thousands of open subscriptions a full garbage collection walks every object of
    # every connection (~400 each) and pauses all of them for 0.3-2.5 s; a fan-out to 1,000
    # subscribers promotes enough in-flight objects to trigger one every change or two
    # (bench/RESULTS.md, "Live fan-out"). So: startup objects (modules, schema, app; ~100k)
    # are frozen out of collections, and a full collection waits for 100 second-generation
    # collections instead of 10 (young collections are unchanged; our per-change garbage has
    # almost no cycles, so little waits longer to be freed).
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        access_log=False,
        proxy_headers=True,
        ws=settings.ws_implementation,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        ws_max_size=settings.ws_max_message_bytes,
    )
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.database import open_pool
    from db.migrate import apply_migrations

    async def run() -> list[str]:
        pool = await open_pool(settings)
        try:
            async with pool.acquire() as conn:
                return [f"{m.version:04d}_{m.name}" for m in await apply_migrations(conn)]
        finally:
            await pool.close()

    applied = asyncio.run(run())
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    from app.database import open_pool
    from db.errors import DuplicateError
    from db.migrate import apply_migrations
    from db.provisioning import ProvisionedUser, provision_user
    from resolvers.errors import ValidationFailed
    from resolvers.validation import normalize_domain, normalize_email

    try:
        email = normalize_email(args.email).lower()
        domains = [normalize_domain(d) for d in args.domain]
    except ValidationFailed as exc:
        print(f"chronik: {exc.message}", file=sys.stderr)
        return 2

    async def run() -> ProvisionedUser:
        pool = await open_pool(settings)
        try:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
                return await provision_user(
                    conn,
                    account_name=args.account,
                    email=email,
                    domains=domains,
                    admin=True if args.admin else None,
                )
        finally:
            await pool.close()

    try:
        made = asyncio.run(run())
    except DuplicateError:
        print(
            f"chronik: a user with email {email} already exists "
            f"(a new API token: chronik token create --email {email})",
            file=sys.stderr,
        )
        return 1
    role = "admin" if made.user.is_admin else "member"
    print(
        f"account: {made.account.name}{' (created)' if made.account_created else ''}",
        file=sys.stderr,
    )
    print(f"user: {made.user.email} ({role})", file=sys.stderr)
    print("API token (shown once; send it as 'Authorization: Bearer <token>'):", file=sys.stderr)
    print(made.token)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import gc
    import signal

    from app.services import running_services
    from telemetry.metrics import serve_worker_metrics

    metrics_port = settings.worker_metrics_port
    if metrics_port and _refuse_busy_ports(
        [("0.0.0.0", metrics_port, "CHRONIK_WORKER_METRICS_PORT")]
    ):
        return 1

    # A sync allocates millions of short-lived objects per large calendar (2,500 events a
    # page, their attendees, decisions and rows), nearly all freed by reference counting. At
    # Python's default thresholds (700, 10, 10) the cycle collector ran so often that it was
    # ~40 % of the worker's CPU (bench/RESULTS.md, "Overlap"): collect cycles every 50,000
    # allocations instead, and never rescan what startup loaded.
    gc.set_threshold(50_000, 20, 10)
    # Behind the API processes on a shared machine (CHRONIK_WORKER_NICE; bench/RESULTS.md,
    # "the onboarding day": queries during a day of first syncs).
    if settings.worker_nice:
        os.nice(settings.worker_nice)

    async def run() -> None:
        async with running_services(settings, migrate=True, own_sandboxes=False) as services:
            gc.freeze()
            worker = services.new_worker()
            if settings.worker_metrics_port:
                token = settings.metrics_token
                serve_worker_metrics(
                    settings.worker_metrics_port,
                    token=token.get_secret_value() if token is not None else None,
                    production=settings.is_production,
                )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, worker.stop)
            logging.getLogger("chronik").info("sync worker %s started", worker.name)
            await worker.run()

    asyncio.run(run())
    return 0


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from sandboxes.runner import serve_forever

    served = [
        (spec.label, spec.sandbox.factory, getattr(args, f"{spec.name}_port"), spec.name)
        for spec in _sandboxed_providers()
        if spec.sandbox is not None
    ]
    flags = [(args.host, port, f"--{name}-port") for _, _, port, name in served]
    if _refuse_busy_ports(flags):
        return 1
    serve_forever(
        args.host, [(label, factory, port) for label, factory, port, _ in served], args.seed
    )
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from app.database import open_pool
    from app.operator import status_report

    async def run() -> str:
        pool = await open_pool(settings)
        try:
            return await status_report(pool)
        finally:
            await pool.close()

    print(asyncio.run(run()), end="")
    return 0


def _sync(settings: Settings, args: argparse.Namespace) -> int:
    from app.database import open_pool
    from app.operator import sync_user

    async def run() -> int:
        pool = await open_pool(settings)
        try:
            return await sync_user(pool, args.user, sys.stdout, give_up_after=args.timeout)
        finally:
            await pool.close()

    return asyncio.run(run())


def _explain(settings: Settings, args: argparse.Namespace) -> int:
    from app.explain_command import explain_command

    return asyncio.run(explain_command(settings, args.user, args.event, sys.stdout, sys.stderr))


def _export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from schema.root import schema

    print(schema.as_str())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chronik", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the GraphQL server (migrates on start)")
    serve.add_argument("--host", help="default: the host of CHRONIK_PUBLIC_URL")
    serve.add_argument(
        "--port",
        type=_port_number,
        help="default: the port of CHRONIK_PUBLIC_URL (which, unless set, follows --host/--port)",
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations")
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(
        run=_migrate
    )

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create a user (and its account) and print a token")
    create.add_argument("--account", required=True, help="account (company) name")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--domain",
        action="append",
        default=[],
        help="internal email domain of the account (repeatable)",
    )
    create.add_argument(
        "--admin",
        action="store_true",
        help="make the user an admin (the first user of an account always is)",
    )
    create.set_defaults(run=_user_create)

    add_token_commands(commands)

    commands.add_parser("worker", help="run a sync worker (any number may run)").set_defaults(
        run=_worker
    )

    sandboxed = _sandboxed_providers()
    sandbox = commands.add_parser(
        "sandbox",
        help="run the providers' sandboxes (" + ", ".join(s.label for s in sandboxed) + ")",
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    for spec in sandboxed:
        assert spec.sandbox is not None
        sandbox.add_argument(
            f"--{spec.name}-port", type=_port_number, default=spec.sandbox.default_port
        )
    sandbox.add_argument("--seed", type=int, default=0)
    sandbox.set_defaults(run=_sandbox, uses_data_dir=False)

    commands.add_parser(
        "status", help="connections by state, last syncs, failing ones with their reasons"
    ).set_defaults(run=_status)

    sync = commands.add_parser("sync", help="sync one user's calendar now, showing progress")
    sync.add_argument("--user", required=True, metavar="EMAIL", help="the user whose calendar")
    sync.add_argument("--timeout", type=float, help="give up after this many seconds")
    sync.set_defaults(run=_sync)

    explain = commands.add_parser(
        "explain", help="why an event of a user's calendar is (not) on contact timelines"
    )
    explain.add_argument("--user", required=True, metavar="EMAIL", help="the calendar's user")
    explain.add_argument("event", metavar="EVENT", help="the event's id or its link")
    explain.set_defaults(run=_explain)

    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)").set_defaults(
        run=_export_schema, uses_data_dir=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"chronik: {exc}", file=sys.stderr)
        return 2
    configure_logging(json=wants_json(settings.log_format, production=settings.is_production))
    # Every command that touches the data directory or the database says which, first: the
    # same command run from another directory (or with another .env) uses another one.
    uses_data_dir = getattr(args, "uses_data_dir", True)
    if uses_data_dir:
        from app.database import describe_storage

        log.info("%s", describe_storage(settings))
    # The process marks its data dir (see app/lifetime.py), without creating one that a
    # deployment on a database server does not otherwise use.
    marked = uses_data_dir and (not settings.database_url or settings.data_dir.is_dir())
    with process_lifetime(settings.data_dir if marked else None):
        result: int = args.run(settings, args)
        return result
    return 1  # not reached: the lifetime ends the process after SIGTERM


if __name__ == "__main__":
    sys.exit(main())
