"""Helpers for the CLI tests: run ``ghapp`` as a real subprocess, or in-process with a given environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

import pytest
from click.testing import CliRunner, Result

from ghapp import config
from ghapp.runtime import set_runtime

GHAPP_VARS = (
    "APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "GITHUB_API_URL", "GHE_HOST", "REDIS_URL",
    "DATABASE_URL", "POD_SECRET", "POD_CALLBACK_URL", "PORT", "LOG_LEVEL",
)


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[Callable[..., Result]]:  # type: ignore[no-untyped-def]
    """``invoke(args, env)``: the CLI in this process, with exactly ``env`` for ghapp's variables."""
    monkeypatch.chdir(tmp_path)  # no stray .env, and SQLite defaults land in the temp dir

    def run(args: list[str], env: Mapping[str, str] | None = None) -> Result:
        from ghapp.cli import main

        for name in GHAPP_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        config.reset_settings_cache()
        set_runtime(None)
        return CliRunner().invoke(main, args, prog_name="ghapp")

    yield run
    config.reset_settings_cache()
    set_runtime(None)


@pytest.fixture
def base_env() -> dict[str, str]:
    """The environment for ghapp subprocesses, without any ghapp variable of the test run's own
    (but with its temporary instance folder, so no subprocess touches a developer's ``instance/``)."""
    return {
        k: v for k, v in os.environ.items()
        if k == config.INSTANCE_DIR_VARIABLE or (k not in GHAPP_VARS and not k.startswith(("GHAPP_", "PYTEST")))
    }
