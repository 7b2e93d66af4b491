"""Registering the GitHub App from its manifest, end to end over real HTTP against the GitHub simulator."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from dotenv import dotenv_values
from ops_seed import STATUS_TOKEN

from ghapp.config import from_env

PROJECT_APP_YML = Path(__file__).resolve().parents[2] / "app.yml"
AUTH = ("ops", STATUS_TOKEN)


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    from ghapp.testing import GitHubSimulator

    with GitHubSimulator() as simulator:
        yield simulator


@pytest.fixture
def workdir(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A deployment's working directory: the project's app.yml and a .env with a setting of its own."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(PROJECT_APP_YML, tmp_path / "app.yml")
    (tmp_path / ".env").write_text("# development settings\nLOG_LEVEL=debug\n")
    return tmp_path


@pytest.fixture
def unconfigured(ops_app, serve, sim, workdir):  # type: ignore[no-untyped-def]
    return serve(ops_app(app_id=None, private_key=None, github_api_url=sim.url, status_token=STATUS_TOKEN))


def setup_form(served, query: str = "") -> tuple[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    page = requests.get(served.url + "/setup" + query, auth=AUTH, timeout=10)
    assert page.status_code == 200, page.text[:500]
    action = re.search(r'<form id="register" action="([^"]+)" method="post">', page.text)
    field = re.search(r'<input type="hidden" name="manifest" value="([^"]*)">', page.text)
    assert action and field
    return html.unescape(action.group(1)), json.loads(html.unescape(field.group(1)))


def register(served, sim):  # type: ignore[no-untyped-def]
    """What the browser does: post the manifest to GitHub, then follow GitHub's redirect back to ghapp."""
    action, manifest = setup_form(served)
    at_github = requests.post(action, data={"manifest": json.dumps(manifest)}, allow_redirects=False, timeout=10)
    assert at_github.status_code == 302, at_github.text[:300]
    callback = at_github.headers["Location"]
    # The browser sends its basic credentials again to ghapp's origin; requests drops them on a cross-port redirect.
    return callback, requests.get(callback, auth=AUTH, timeout=30)


def test_the_whole_flow_writes_env_and_links_to_the_installation(unconfigured, sim, workdir):
    action, manifest = setup_form(unconfigured)
    assert action.startswith(f"{sim.url}/settings/apps/new?state=")
    assert manifest["hook_attributes"]["url"] == unconfigured.url + "/api/github/webhooks"
    assert manifest["redirect_url"].startswith(unconfigured.url + "/setup/callback?state=")
    assert manifest["name"] == "ghapp"
    assert manifest["default_permissions"]["pull_requests"] == "write"

    callback, done = register(unconfigured, sim)
    assert callback.startswith(unconfigured.url + "/setup/callback?")
    assert "code" in parse_qs(urlsplit(callback).query)
    assert done.status_code == 200, done.text[:500]
    install = re.search(r'<a id="install" href="([^"]+)">', done.text)
    assert install is not None
    assert html.unescape(install.group(1)) == f"{sim.url}/apps/ghapp-simulated/installations/new"
    assert "Restart ghapp" in done.text
    assert str(sim.app_id) in done.text

    env = dotenv_values(workdir / ".env")
    assert env["LOG_LEVEL"] == "debug"
    assert (workdir / ".env").read_text().startswith("# development settings\nLOG_LEVEL=debug\n")
    assert env["APP_ID"] == str(sim.app_id)
    assert "\n" not in env["PRIVATE_KEY"]  # one line, with literal \n
    settings = from_env({k: v for k, v in env.items() if v is not None})
    assert settings.app_id == sim.app_id
    assert settings.private_key == sim.private_key_pem.strip() + "\n"
    assert settings.webhook_secrets == (sim.webhook_secret,)
    assert settings.client_id == sim.client_id
    assert settings.client_secret == sim.client_secret
    assert settings.github_configured

    for secret in (sim.webhook_secret, sim.client_secret, *sim.private_key_pem.splitlines()[1:-1]):
        assert secret not in done.text
    assert sim.webhook_url == unconfigured.url + "/api/github/webhooks"  # GitHub took the hook URL from the manifest


def test_a_callback_cannot_be_replayed(unconfigured, sim, workdir):
    callback, done = register(unconfigured, sim)
    assert done.status_code == 200
    before = (workdir / ".env").read_text()
    again = requests.get(callback, auth=AUTH, timeout=10)
    assert again.status_code == 400
    assert "unknown or expired" in again.text
    assert (workdir / ".env").read_text() == before


def test_a_forged_callback_does_not_touch_env(unconfigured, sim, workdir):
    setup_form(unconfigured)  # a genuine state exists, but the forger does not know it
    code = sim.create_manifest_code({"url": "https://evil.example", "name": "evil"})
    for query in (f"?code={code}&state=forged", f"?code={code}", f"?code={code}&state="):
        response = requests.get(unconfigured.url + "/setup/callback" + query, auth=AUTH, timeout=10)
        assert response.status_code == 400, query
    assert (workdir / ".env").read_text() == "# development settings\nLOG_LEVEL=debug\n"


def test_an_unknown_code_is_reported(unconfigured, workdir):
    action, _ = setup_form(unconfigured)
    state = parse_qs(urlsplit(action).query)["state"][0]
    response = requests.get(
        unconfigured.url + "/setup/callback", params={"code": "0" * 20, "state": state}, auth=AUTH, timeout=10
    )
    assert response.status_code == 502
    assert "GitHub answered 404" in response.text
    assert "APP_ID" not in (workdir / ".env").read_text()


def test_organization_registration_posts_to_the_organizations_page(unconfigured, sim):
    action, _ = setup_form(unconfigured, "?org=acme")
    assert action.startswith(f"{sim.url}/organizations/acme/settings/apps/new?state=")


def test_public_url_is_used_for_the_webhook_and_redirect(ops_app, serve, sim, workdir):
    served = serve(ops_app(app_id=None, github_api_url=sim.url, status_token=None, public_url="https://ghapp.example"))
    _, manifest = setup_form(served)
    assert manifest["hook_attributes"]["url"] == "https://ghapp.example/api/github/webhooks"
    assert manifest["redirect_url"].startswith("https://ghapp.example/setup/callback?state=")


def test_setup_is_gone_once_the_app_is_configured(ops_app, serve, sim, workdir):
    served = serve(ops_app(app_id=12345, github_api_url=sim.url, status_token=STATUS_TOKEN))
    code = sim.create_manifest_code({"url": "https://x.example"})
    assert requests.get(served.url + "/setup", auth=AUTH, timeout=10).status_code == 404
    response = requests.get(served.url + f"/setup/callback?code={code}&state=x", auth=AUTH, timeout=10)
    assert response.status_code == 404
    assert "APP_ID" not in (workdir / ".env").read_text()


def test_after_registration_setup_asks_for_a_restart(unconfigured, sim):
    _, done = register(unconfigured, sim)
    assert done.status_code == 200
    page = requests.get(unconfigured.url + "/setup", auth=AUTH, timeout=10)
    assert page.status_code == 200
    assert "already registered" in page.text
    assert 'id="register"' not in page.text


def test_without_app_yml_the_page_says_so(ops_app, serve, sim, tmp_path, monkeypatch):
    from ghapp import setup_flow

    monkeypatch.chdir(tmp_path)
    served = serve(ops_app(app_id=None, github_api_url=sim.url, status_token=None))
    page = requests.get(served.url + "/setup", timeout=10)
    if setup_flow.find_manifest_path(tmp_path) is None:
        assert page.status_code == 500
        assert "No app.yml was found" in page.text
    else:  # the package ships its own app.yml
        assert page.status_code == 200
        assert 'id="register"' in page.text
