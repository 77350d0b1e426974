"""Settings: invalid values fail at start naming the variable; the dev secret is made once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Environment, Settings, SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHRONIK_PUBLIC_URL", "not a url"),
        ("CHRONIK_DATABASE_URL", "mysql://x"),
        ("CHRONIK_SECRET_KEY", "short"),
        ("CHRONIK_ENV", "staging"),
        ("CHRONIK_SANDBOX_GOOGLE_PORT", "99999"),
        ("CHRONIK_SANDBOX_MICROSOFT_PORT", "0"),
        ("CHRONIK_WORKER_METRICS_PORT", "70000"),
        ("CHRONIK_CORS_ORIGINS", "https://app.example.com/path"),
        ("CHRONIK_CORS_ORIGINS", "app.example.com"),
    ],
)
def test_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_cli_refuses_to_start_with_invalid_settings(tmp_path: Path) -> None:
    env = {**os.environ, "CHRONIK_PUBLIC_URL": "nope", "CHRONIK_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CHRONIK_PUBLIC_URL" in result.stderr


def test_a_relative_data_dir_is_resolved_once_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHRONIK_DATA_DIR", "state")
    settings = load_settings()
    monkeypatch.chdir("/")
    assert settings.data_dir == tmp_path.resolve() / "state"


def test_the_public_url_follows_the_listening_address_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHRONIK_PUBLIC_URL", raising=False)
    unset = load_settings()
    assert str(unset.served_at("127.0.0.1", 8100).public_url) == "http://127.0.0.1:8100/"
    assert str(unset.served_at("0.0.0.0", 8100).public_url) == "http://127.0.0.1:8100/"
    assert str(unset.served_at("::1", 8100).public_url) == "http://[::1]:8100/"
    # Set, it is where users reach Chronik (behind a proxy, not where it listens): kept.
    monkeypatch.setenv("CHRONIK_PUBLIC_URL", "https://chronik.example.com")
    behind_proxy = load_settings().served_at("127.0.0.1", 8000)
    assert str(behind_proxy.public_url) == "https://chronik.example.com/"


def test_a_database_password_never_appears_in_the_storage_line(tmp_path: Path) -> None:
    from app.database import describe_storage

    line = describe_storage(
        Settings(
            data_dir=tmp_path, database_url="postgresql://chronik:s3cret@db:5432/crm?password=x2"
        )
    )
    assert line == (
        f"data dir {tmp_path.resolve()}; database postgresql://chronik:***@db:5432/crm?password=***"
    )


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.resolved_secret_key()
    assert Settings(data_dir=tmp_path).resolved_secret_key() == first
    assert len(first) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert first not in repr(Settings(data_dir=tmp_path, secret_key="k" * 40))


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CHRONIK_SECRET_KEY"):
        Settings(env=Environment.PRODUCTION, data_dir=tmp_path).resolved_secret_key()


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "0"],
        ["sandbox", "--google-port", "eighty"],
    ],
)
def test_port_flags_refuse_what_is_not_a_port(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import build_parser

    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(argv)
    assert refused.value.code == 2
    assert "is not a port number (1-65535)" in capsys.readouterr().err


def test_cors_origins_are_read_as_browsers_send_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHRONIK_CORS_ORIGINS", "https://App.Example.com:443, http://localhost:5173")
    assert load_settings().cors_origins == ["http://localhost:5173", "https://app.example.com"]
