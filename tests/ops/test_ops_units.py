"""Pure decisions behind the operator's pages, table-driven."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ghapp import setup_flow
from ghapp.metrics import bucket_label, buckets_for, sync_histograms
from ghapp.status_model import format_ago, format_interval, format_time, last_line, sweep_view
from ghapp.web.auth import needs_token, password_allows
from ghapp.web.status_page import dashboard_redis_url


@pytest.mark.parametrize(
    ("api_url", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("http://ghe.internal:8080/api/v3", "http://ghe.internal:8080"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
        ("http://127.0.0.1:51234", "http://127.0.0.1:51234"),
        ("http://127.0.0.1:51234/api/v3", "http://127.0.0.1:51234"),
    ],
)
def test_github_web_url(api_url, web):
    assert setup_flow.github_web_url(api_url) == web


def test_github_web_url_rejects_relative():
    with pytest.raises(setup_flow.SetupError):
        setup_flow.github_web_url("api.github.com")


@pytest.mark.parametrize(
    ("api_url", "org", "state", "expected"),
    [
        ("https://api.github.com", None, None, "https://github.com/settings/apps/new"),
        ("https://api.github.com", "acme", None, "https://github.com/organizations/acme/settings/apps/new"),
        ("https://ghe.example.com/api/v3", None, "s1", "https://ghe.example.com/settings/apps/new?state=s1"),
        ("http://127.0.0.1:9/", "a b", "x/y", "http://127.0.0.1:9/organizations/a%20b/settings/apps/new?state=x%2Fy"),
    ],
)
def test_new_app_url(api_url, org, state, expected):
    assert setup_flow.new_app_url(api_url, org, state) == expected


def test_build_manifest_fills_urls_and_keeps_manifest_fields():
    app_yml = {
        "name": "ghapp",
        "url": "https://example.com/ghapp",
        "description": "d",
        "public": False,
        "default_events": ["pull_request"],
        "default_permissions": {"pull_requests": "write"},
        "unknown_key": "dropped",
    }
    manifest = setup_flow.build_manifest(app_yml, "https://ghapp.example.com/", "/api/github/webhooks", "st4te")
    assert manifest["hook_attributes"] == {"url": "https://ghapp.example.com/api/github/webhooks", "active": True}
    assert manifest["redirect_url"] == "https://ghapp.example.com/setup/callback?state=st4te"
    assert manifest["url"] == "https://example.com/ghapp"
    assert manifest["default_permissions"] == {"pull_requests": "write"}
    assert manifest["default_events"] == ["pull_request"]
    assert manifest["public"] is False
    assert "unknown_key" not in manifest


def test_build_manifest_defaults_homepage_to_public_base():
    manifest = setup_flow.build_manifest({"name": "x"}, "http://localhost:3000", "/hooks", "s")
    assert manifest["url"] == "http://localhost:3000"
    assert manifest["hook_attributes"]["url"] == "http://localhost:3000/hooks"


def test_the_projects_app_yml_builds_a_manifest():
    root = Path(__file__).resolve().parents[2]
    path = setup_flow.find_manifest_path(root)
    assert path == root / "app.yml"
    manifest = setup_flow.build_manifest(setup_flow.load_app_yml(path), "https://x.test", "/api/github/webhooks", "s")
    assert manifest["name"] == "ghapp"
    assert "pull_request" in manifest["default_events"]
    assert manifest["default_permissions"]["pull_requests"] == "write"


def test_find_manifest_prefers_working_directory_then_package(tmp_path):
    cwd = tmp_path / "cwd"
    package = tmp_path / "pkg"
    cwd.mkdir()
    package.mkdir()
    assert setup_flow.find_manifest_path(cwd, package) is None
    (package / "app.yml").write_text("name: packaged\n")
    assert setup_flow.find_manifest_path(cwd, package) == package / "app.yml"
    (cwd / "app.yml").write_text("name: local\n")
    assert setup_flow.find_manifest_path(cwd, package) == cwd / "app.yml"


def test_load_app_yml_errors_name_the_file(tmp_path):
    bad = tmp_path / "app.yml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(setup_flow.SetupError, match=r"app\.yml must be a mapping"):
        setup_flow.load_app_yml(bad)
    bad.write_text("name: [unclosed\n")
    with pytest.raises(setup_flow.SetupError, match="not valid YAML"):
        setup_flow.load_app_yml(bad)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("a180b1a3d263c81bc6441d7b990bae27d4c10679", True),
        ("", False),
        (None, False),
        ("../app", False),
        ("a b", False),
        ("x" * 129, False),
    ],
)
def test_valid_code(code, ok):
    assert setup_flow.valid_code(code) is ok


def test_conversion_url_refuses_malformed_codes():
    assert setup_flow.conversion_url("https://api.github.com/", "abc") == (
        "https://api.github.com/app-manifests/abc/conversions"
    )
    with pytest.raises(setup_flow.SetupError):
        setup_flow.conversion_url("https://api.github.com", "../../user")


PEM = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\n"


def test_env_updates_from_a_conversion():
    updates = setup_flow.env_updates(
        {"id": 42, "pem": PEM, "webhook_secret": "whs", "client_id": "Iv1.x", "client_secret": "cs", "slug": "g"}
    )
    assert updates == {
        "APP_ID": "42",
        "PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\\nAAAA\\nBBBB\\n-----END RSA PRIVATE KEY-----",
        "WEBHOOK_SECRET": "whs",
        "GITHUB_CLIENT_ID": "Iv1.x",
        "GITHUB_CLIENT_SECRET": "cs",
    }


def test_env_updates_leave_a_null_webhook_secret_out():
    updates = setup_flow.env_updates({"id": 1, "pem": PEM, "webhook_secret": None})
    assert "WEBHOOK_SECRET" not in updates


@pytest.mark.parametrize("conversion", [{}, {"id": "x", "pem": PEM}, {"id": 1}, {"id": 1, "pem": "not a key"}])
def test_env_updates_reject_incomplete_answers(conversion):
    with pytest.raises(setup_flow.SetupError):
        setup_flow.env_updates(conversion)


def test_write_env_keeps_other_lines_and_replaces_known_keys(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# local settings\nREDIS_URL=redis://127.0.0.1:6379/0\nAPP_ID=1\n")
    setup_flow.write_env(env, {"APP_ID": "99", "WEBHOOK_SECRET": "it's"})
    text = env.read_text()
    assert text.startswith("# local settings\nREDIS_URL=redis://127.0.0.1:6379/0\n")
    assert "APP_ID='99'" in text
    assert text.count("APP_ID") == 1
    from dotenv import dotenv_values

    assert dotenv_values(env)["WEBHOOK_SECRET"] == "it's"


def test_write_env_creates_a_private_file(tmp_path):
    env = tmp_path / ".env"
    setup_flow.write_env(env, {"APP_ID": "5"})
    assert env.stat().st_mode & 0o077 == 0


def test_install_url():
    assert setup_flow.install_url("https://github.com/apps/ghapp/") == "https://github.com/apps/ghapp/installations/new"


@pytest.mark.parametrize(
    ("password", "token", "allowed"),
    [
        (None, None, True),
        ("anything", None, True),
        (None, "s3cret", False),
        ("", "s3cret", False),
        ("s3cre", "s3cret", False),
        ("s3cret", "s3cret", True),
        ("s3cret ", "s3cret", False),
        ("pässwörd", "pässwörd", True),
    ],
)
def test_password_allows(password, token, allowed):
    assert password_allows(password, token) is allowed


@pytest.mark.parametrize(
    ("blueprint", "protected"),
    [
        ("status", True),
        ("metrics", True),
        ("setup", True),
        ("rq_dashboard", True),
        ("health", False),
        ("webhooks", False),
        ("pod_api", False),
        (None, False),
        ("status.nested", True),
    ],
)
def test_needs_token(blueprint, protected):
    assert needs_token(blueprint) is protected


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (0.0, ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]),
        (0.05, ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]),
        (0.3, ["0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]),
        (10.0, ["10.0", "+Inf"]),
        (12.5, ["+Inf"]),
    ],
)
def test_buckets_for(duration, expected):
    assert buckets_for(duration) == expected


def test_bucket_label():
    assert bucket_label(math.inf) == "+Inf"
    assert bucket_label(1) == "1.0"


def test_sync_histograms_fill_missing_buckets_and_take_inf_from_count():
    fields = {"count:ok": "3", "sum:ok": "1.5", "bucket:ok:0.5": "2", "bucket:ok:1.0": "3", "count:failed": "1"}
    result = sync_histograms(fields)
    assert sorted(result) == ["failed", "ok"]
    buckets, total = result["ok"]
    assert dict(buckets) == {
        "0.05": 0,
        "0.1": 0,
        "0.25": 0,
        "0.5": 2,
        "1.0": 3,
        "2.5": 0,
        "5.0": 0,
        "10.0": 0,
        "+Inf": 3,
    }
    assert total == 1.5
    assert result["failed"][1] == 0.0
    assert dict(result["failed"][0])["+Inf"] == 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (None, ""),
        ("", ""),
        ('Traceback (most recent call last):\n  File "x", line 1\nValueError: boom\n\n', "ValueError: boom"),
        ("single", "single"),
    ],
)
def test_last_line(text, line):
    assert last_line(text) == line


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "\u2014"), (0, "0s"), (45, "45s"), (60, "1m"), (90, "1m 30s"), (1800, "30m")]
)
def test_format_interval(seconds, text):
    assert format_interval(seconds) == text


def test_format_time_treats_naive_as_utc():
    assert format_time(datetime(2024, 5, 1, 12, 0, 3)) == "2024-05-01 12:00:03 UTC"
    assert format_time("2024-05-01T14:00:03+02:00") == "2024-05-01 12:00:03 UTC"
    assert format_time(None) == "\u2014"
    assert format_time("not a time") == "\u2014"


def test_format_ago():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert format_ago(now - timedelta(seconds=12), now) == "12s ago"
    assert format_ago(now - timedelta(minutes=3, seconds=5), now) == "3m ago"
    assert format_ago(now - timedelta(hours=2), now) == "2h ago"
    assert format_ago(now + timedelta(minutes=4), now) == "4m from now"
    assert format_ago(None, now) == ""


def test_sweep_view_reads_defensively():
    assert sweep_view(None) is None
    assert sweep_view("garbage") is None
    view = sweep_view({"interval_s": 600, "reason": "rate budget low", "last_run": "2024-05-01T12:00:00+00:00"})
    assert view is not None
    assert (view.interval_s, view.reason, view.next_run) == (600, "rate budget low", None)
    assert sweep_view({"interval_s": "soon"}).interval_s is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("rediss://:pw@host:1234", "rediss://:pw@host:1234?ssl_cert_reqs=none"),
        ("rediss://host:1?db=1", "rediss://host:1?db=1&ssl_cert_reqs=none"),
        ("rediss://host:1?ssl_cert_reqs=required", "rediss://host:1?ssl_cert_reqs=required"),
    ],
)
def test_dashboard_redis_url(url, expected):
    assert dashboard_redis_url(url) == expected
