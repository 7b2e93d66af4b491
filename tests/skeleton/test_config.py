"""Each bad setting gives a clear error, and no secret reaches any output."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ghapp.config import ConfigError, from_env, normalise_database_url


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


RSA_PEM = _rsa_pem()
EC_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_ID": "abc"}, "APP_ID must be the numeric id of your GitHub App"),
        ({"PRIVATE_KEY": "not a key"}, "PRIVATE_KEY is not a PEM-encoded RSA private key"),
        ({"PRIVATE_KEY": EC_PEM}, "PRIVATE_KEY is not a PEM-encoded RSA private key"),
        ({"PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "PRIVATE_KEY_PATH '/nonexistent/key.pem' cannot be read"),
        ({"PRIVATE_KEY": RSA_PEM, "PRIVATE_KEY_PATH": "x"}, "set PRIVATE_KEY or PRIVATE_KEY_PATH, not both"),
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"PORT": "0"}, "PORT must be at least 1"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of pretty, json"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL must start with redis://"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a sqlite:// or postgres:// URL"),
        ({"POD_CALLBACK_URL": "ftp://pod"}, "POD_CALLBACK_URL must be an http:// or https:// URL"),
        ({"WEBHOOK_PATH": "hooks"}, "WEBHOOK_PATH must start with '/'"),
        ({"APPROVAL_POLICY": "maybe"}, "APPROVAL_POLICY must be one of pod, github, either, none"),
        ({"MERGE_METHOD": "octopus"}, "MERGE_METHOD must be one of merge, squash, rebase"),
        ({"CHECKS_REQUIRED": "perhaps"}, "CHECKS_REQUIRED must be true or false"),
        ({"MERGE_METHODS": "squash,octopus"}, "MERGE_METHODS must list some of merge, squash, rebase"),
        ({"MERGE_METHODS": "squash,squash"}, "MERGE_METHODS must list some of merge, squash, rebase, each once"),
        ({"UPDATE_BRANCH": "always"}, "UPDATE_BRANCH must be one of auto, notify"),
        ({"CHECKS_SETTLE_SECONDS": "0"}, "CHECKS_SETTLE_SECONDS must be at least 1"),
        ({"CHECKS_TIMEOUT_SECONDS": "10"}, "CHECKS_TIMEOUT_SECONDS must be at least 60"),
        ({"GHE_HOST": "https://ghe.example.com/"}, "GHE_HOST is a host name"),
        ({"GITHUB_API_URL": "ghe.example.com"}, "GITHUB_API_URL must start with http://"),
        ({"SWEEP_INTERVAL_SECONDS": "5000"}, "SWEEP_INTERVAL_SECONDS must lie between"),
        ({"INBOX_RETENTION_DAYS": "2"}, "INBOX_RETENTION_DAYS must be 0 (keep every delivery) or at least 3"),
        ({"INBOX_RETENTION_DAYS": "5", "GHE_HOST": "ghe.example.com"},
         "at least 7, the days GitHub Enterprise Server can redeliver"),
        ({"INBOX_RETENTION_DAYS": "a week"}, "INBOX_RETENTION_DAYS must be a whole number"),
    ],
)
def test_bad_setting_gives_a_clear_error(env, message):
    with pytest.raises(ConfigError) as excinfo:
        from_env(env)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(("raw", "days"), [(None, 14), ("0", 0), ("3", 3), ("30", 30)])
def test_inbox_retention_defaults_to_two_weeks_and_zero_keeps_everything(raw, days):
    assert from_env({} if raw is None else {"INBOX_RETENTION_DAYS": raw}).inbox_retention_days == days


def test_the_key_itself_never_appears_in_the_error():
    broken = RSA_PEM.replace("MII", "XXX")
    with pytest.raises(ConfigError) as excinfo:
        from_env({"PRIVATE_KEY": broken})
    assert "XXX" not in str(excinfo.value)
    assert "BEGIN" not in str(excinfo.value)


def test_defaults_and_probot_names():
    settings = from_env({})
    assert settings.port == 3000
    assert settings.database_url == "sqlite:///instance/ghapp.sqlite3"
    assert settings.webhook_path == "/api/github/webhooks"
    assert settings.github_api_url == "https://api.github.com"
    assert not settings.github_configured
    assert settings.missing_github_settings() == ["APP_ID", "PRIVATE_KEY or PRIVATE_KEY_PATH", "WEBHOOK_SECRET"]


def test_full_configuration_and_secret_rotation():
    settings = from_env(
        {"APP_ID": "42", "PRIVATE_KEY": RSA_PEM.replace("\n", "\\n"), "WEBHOOK_SECRET": "new, old", "LOG_LEVEL": "warn"}
    )
    assert settings.app_id == 42
    assert settings.private_key is not None and settings.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert settings.webhook_secrets == ("new", "old")
    assert settings.log_level == "WARNING"
    assert settings.github_configured


def test_ghe_host_sets_rest_and_graphql_urls():
    settings = from_env({"GHE_HOST": "ghe.example.com"})
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert settings.github_graphql_url == "https://ghe.example.com/api/graphql"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_heroku_database_urls_are_rewritten(raw, expected):
    assert normalise_database_url(raw) == expected


def test_secrets_are_masked_in_repr_and_describe():
    settings = from_env(
        {"APP_ID": "7", "PRIVATE_KEY": RSA_PEM, "WEBHOOK_SECRET": "hooksecret123", "POD_SECRET": "podsecret456"}
    )
    shown = repr(settings) + repr(settings.describe())
    for secret in ("hooksecret123", "podsecret456", "PRIVATE KEY"):
        assert secret not in shown
    assert settings.describe()["pod_secret"] == "(set)"


def test_cli_config_masks_secrets_and_bad_config_is_one_line(monkeypatch, tmp_path):
    from ghapp import config
    from ghapp.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBHOOK_SECRET", "hooksecret123")
    monkeypatch.setenv("POD_SECRET", "podsecret456")
    config.reset_settings_cache()
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0
    assert "webhook_secrets = (set)" in result.output
    assert "hooksecret123" not in result.output and "podsecret456" not in result.output

    monkeypatch.setenv("APP_ID", "twelve")
    config.reset_settings_cache()
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["ghapp: configuration error: APP_ID must be the numeric id of your GitHub App, got 'twelve'"]
    config.reset_settings_cache()


def test_dotenv_is_honoured_without_overriding_the_environment(tmp_path):
    (tmp_path / ".env").write_text("APP_ID=99\nPORT=4000\n")
    code = "from ghapp.config import get_settings; s = get_settings(); print(s.app_id, s.port)"
    env = {"PATH": "/usr/bin:/bin", "PORT": "5000"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["99", "5000"]
