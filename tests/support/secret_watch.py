"""No secret in any log line of the whole test run: a pytest plugin that checks it.

For the whole session it
- copies every log record of the test process, formatted as production writes it (JSON
  lines, credentials redacted by `telemetry.logs`), into `<session dir>/pytest.log`; Chronik's own
  loggers (`chronik.*`) are read down to DEBUG, while what reaches the other handlers
  (pytest's capture, a test's own handler) stays what it was (`SecretWatch.capture`);
- has every `chronik` subprocess a test starts (their environment comes from
  `tests.support.workers.chronik_env`) write the same copy of its log records into the
  session directory (`subprocess_env`, read by `secret_watch_site/sitecustomize.py`);
- remembers every secret the run issues, by watching where they are made: API tokens
  (`db.users.create_api_token`), the sandboxes' authorization codes, access and refresh
  tokens, the webhook channel tokens and Graph `clientState` values Chronik registers, OAuth
  `state` and PKCE verifiers, the secret keys and client secrets of every `Settings`;
- after each test, looks for the secrets issued meanwhile (and the session's own) in the lines
  logged meanwhile; at the end of the session a leak fails the run, naming test and line.

Tests may hand it secrets made elsewhere with `remember(...)`.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from telemetry.logs import JsonFormatter, RedactSecrets

LOG_COPY_ENV = "CHRONIK_TEST_LOG_COPY"
SITE_DIR = Path(__file__).parent / "secret_watch_site"
# Shorter values are not secrets of ours (and would match by chance).
MIN_SECRET = 12


@dataclass(frozen=True)
class Leak:
    test: str
    source: str
    line: str


def find_leaks(secrets: Iterable[str], lines: Iterable[tuple[str, str]], test: str) -> list[Leak]:
    """Every (source, line) that contains one of `secrets`, the secret masked in the report."""
    wanted = [s for s in set(secrets) if len(s) >= MIN_SECRET]
    found: list[Leak] = []
    for source, line in lines:
        for secret in wanted:
            if secret in line:
                shown = line.replace(secret, f"<secret {secret[:4]}…>")
                found.append(Leak(test, source, shown[:500]))
                break
    return found


class CopyHandler(logging.FileHandler):
    """Appends every record, as production would write it, to a file.

    A FileHandler: uvicorn's `dictConfig` closes every existing handler when a server
    starts, and a FileHandler opens its file again at the next record.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="a", encoding="utf-8", delay=True)
        self.setFormatter(JsonFormatter())
        self.addFilter(RedactSecrets())


@dataclass
class SecretWatch:
    directory: Path
    session_secrets: set[str] = field(default_factory=set)
    test_secrets: set[str] = field(default_factory=set)
    leaks: list[Leak] = field(default_factory=list)
    _read: dict[Path, int] = field(default_factory=dict)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def remember(self, *values: object) -> None:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET:
                self.test_secrets.add(value)

    def new_lines(self) -> Iterator[tuple[str, str]]:
        """Lines written to the session directory since the last call."""
        for path in sorted(self.directory.glob("*.log")):
            start = self._read.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
            # Only whole lines: a subprocess may be half-way through one.
            end = data.rfind(b"\n") + 1
            self._read[path] = start + end
            for line in data[:end].decode("utf-8", "replace").splitlines():
                yield path.name, line

    def check(self, test: str) -> None:
        secrets = self.session_secrets | self.test_secrets
        self.leaks.extend(find_leaks(secrets, self.new_lines(), test))
        self.test_secrets.clear()

    # -- capture ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.capture()
        self._watch_issuers()

    def capture(self) -> None:
        """Copy every log record of this process into the watch's directory.

        Records of Chronik's loggers are made down to DEBUG; those below the level they would
        have had without the watch are copied and go no further, so pytest's capture and
        any handler of a test see exactly what they saw before.
        """
        copy = CopyHandler(self.directory / "pytest.log")
        root = logging.getLogger()
        root.addHandler(copy)
        chronik = logging.getLogger("chronik")
        saved_level = chronik.level
        chronik.setLevel(logging.DEBUG)
        call_handlers = logging.Logger.callHandlers

        def unwatched_level(logger: logging.Logger | None) -> int:
            while logger is not None:
                level = saved_level if logger is chronik else logger.level
                if level:
                    return level
                logger = logger.parent
            return logging.NOTSET

        def watched_call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
            ours = record.name == "chronik" or record.name.startswith("chronik.")
            if ours and record.levelno < unwatched_level(logger):
                copy.handle(record)
                return
            call_handlers(logger, record)

        logging.Logger.callHandlers = watched_call_handlers  # type: ignore[method-assign,assignment]

        def stop() -> None:
            logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]
            chronik.setLevel(saved_level)
            root.removeHandler(copy)
            copy.close()

        self._undo.append(stop)

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _wrap(self, owner: Any, name: str, record: Callable[[Any, tuple[Any, ...]], None]) -> None:
        """Wrap `owner.name` so that `record(result, args)` sees each call; unwrapped at the end."""
        original = getattr(owner, name)
        if _is_async(original):

            @functools.wraps(original)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await original(*args, **kwargs)
                record(result, args)
                return result

            setattr(owner, name, async_wrapper)
        else:

            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)
                record(result, args)
                return result

            setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def _watch_issuers(self) -> None:
        # Imported here: the plugin is loaded before the test modules import them.
        import db.users
        import sync.engine
        import sync.linking
        import sync.oauth_client
        from app.settings import Settings
        from sandboxes.google.model import Channel
        from sandboxes.microsoft.subscriptions import SubscriptionState
        from sandboxes.oauth import OAuthAuthority

        def result(value: Any, _args: tuple[Any, ...]) -> None:
            self.remember(value)

        self._wrap(db.users, "create_api_token", result)
        self._wrap(OAuthAuthority, "_token", result)  # codes, access and refresh tokens
        # Push channel tokens and clientState values, state and PKCE verifiers.
        for module in (sync.engine, sync.linking, sync.oauth_client):
            self._wrap(module, "generate_token", result)
        # Registered by a worker in another process: seen as the sandbox stores them.
        self._wrap(Channel, "__init__", lambda _r, args: self.remember(args[0].token))
        self._wrap(
            SubscriptionState, "__init__", lambda _r, args: self.remember(args[0].client_state)
        )

        def settings(_result: Any, args: tuple[Any, ...]) -> None:
            made = args[0]
            for name in ("secret_key", "google_client_secret", "microsoft_client_secret"):
                value = getattr(made, name, None)
                if value is not None:
                    self.remember(value.get_secret_value())
            for key in getattr(made, "previous_secret_keys", []):
                self.remember(key.get_secret_value())

        self._wrap(Settings, "__init__", settings)
        self._wrap(Settings, "resolved_secret_key", result)


def _is_async(function: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)


_watch: SecretWatch | None = None


def remember(*secrets: object) -> None:
    """Have the session's check look for these secrets too (no-op without the plugin)."""
    if _watch is not None:
        _watch.remember(*secrets)


def subprocess_env() -> dict[str, str]:
    """Environment for a `chronik` subprocess: its log records copied for the check too."""
    if _watch is None:
        return {}
    path = [str(SITE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {LOG_COPY_ENV: str(_watch.directory), "PYTHONPATH": os.pathsep.join(path)}


# -- pytest hooks ------------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    global _watch
    _watch = SecretWatch(Path(tempfile.mkdtemp(prefix="chronik-logs-")))
    _watch.start()
    try:
        from tests.conftest import TEST_SECRET_KEY
    except ImportError:  # the plugin used without Chronik's test suite
        return
    _watch.session_secrets.add(TEST_SECRET_KEY)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)
    finally:
        if _watch is not None:
            _watch.check(item.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if _watch is None:
        return
    _watch.check("(between tests)")
    _watch.stop()
    if _watch.leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _watch is None:
        return
    if not _watch.leaks:
        terminalreporter.write_line(f"secret watch: no secret in any log line ({_watch.directory})")
        return
    terminalreporter.section("secrets in log lines", red=True)
    for leak in _watch.leaks:
        terminalreporter.write_line(f"{leak.test} [{leak.source}]: {leak.line}")
    terminalreporter.write_line(f"{len(_watch.leaks)} leaking lines; all logs: {_watch.directory}")
