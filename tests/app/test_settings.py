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
