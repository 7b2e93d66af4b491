"""``/setup``: register ghapp's GitHub App from ``app.yml`` and write its credentials to ``.env``.

Only while ``APP_ID`` is unset; afterwards both pages answer 404, so nobody
can re-run the flow against a configured deployment. A random ``state`` is
kept in Redis for an hour (GitHub's limit for the whole flow) and checked,
once, on the callback, so a forged callback cannot overwrite credentials.

The callback is the one place where the web process talks to GitHub: it is
a single request made while a person waits on the page, not webhook work.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

import requests
from flask import Blueprint, abort, current_app, render_template, request
from redis.exceptions import RedisError

from ghapp import setup_flow
from ghapp.github.headers import API_VERSION, USER_AGENT
from ghapp.runtime import Runtime
from ghapp.web.current import current_runtime

log = logging.getLogger(__name__)

blueprint = Blueprint("setup", __name__, template_folder="templates")

STATE_TTL_S = 3600
STATE_PREFIX = "ghapp:setup:state:"
CONVERSION_TIMEOUT_S = (5, 30)
ENV_FILE = ".env"


def _runtime() -> Runtime:
    return current_runtime()


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int, dict[str, str]]:
    context.setdefault("protected", bool(current_app.config.get("GHAPP_STATUS_PROTECTED")))
    return render_template(template, **context), status, {"Cache-Control": "no-store"}


def _error(message: str, status: int) -> tuple[str, int, dict[str, str]]:
    return _page("setup_error.html", status, message=message)


def env_path() -> Path:
    """The ``.env`` ghapp reads at start: the working directory's."""
    return Path.cwd() / ENV_FILE


def env_has_app_id(path: Path) -> bool:
    """True when ``.env`` already names an app (registered but not yet picked up by a restart)."""
    if not path.is_file():
        return False
    from dotenv import dotenv_values

    return bool((dotenv_values(path).get("APP_ID") or "").strip())


@blueprint.before_request
def _only_until_configured() -> None:
    if _runtime().settings.app_id is not None:
        abort(404)


@blueprint.get("/setup")
def setup_page():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    settings = runtime.settings
    if env_has_app_id(env_path()):
        return _page("setup_done.html", registered=None)
    manifest_path = setup_flow.find_manifest_path(Path.cwd())
    if manifest_path is None:
        return _error("No app.yml was found in the working directory or in the ghapp package.", 500)
    try:
        app_yml = setup_flow.load_app_yml(manifest_path)
    except setup_flow.SetupError as exc:
        return _error(str(exc), 500)
    state = secrets.token_urlsafe(24)
    try:
        runtime.redis.set(STATE_PREFIX + state, b"1", ex=STATE_TTL_S)
    except (RedisError, OSError) as exc:
        log.warning("setup: Redis did not answer: %s", exc)
        return _error("Redis did not answer; the registration needs it to remember this request.", 503)
    public_base = settings.public_url or request.host_url.rstrip("/")
    manifest = setup_flow.build_manifest(app_yml, public_base, settings.webhook_path, state)
    organization = (request.args.get("org") or "").strip() or None
    return _page(
        "setup.html",
        manifest_json=json.dumps(manifest, indent=2),
        action=setup_flow.new_app_url(settings.github_api_url, organization, state),
        organization=organization,
        manifest=manifest,
        public_base=public_base,
        from_public_url=bool(settings.public_url),
    )


def claim_state(runtime: Runtime, values: list[str]) -> bool:
    """Consume the state GitHub sent back; True only for one this deployment issued in the last hour."""
    if len(set(values)) != 1 or not values[0]:
        return False
    return runtime.redis.getdel(STATE_PREFIX + values[0]) is not None


def exchange_code(api_url: str, code: str) -> dict[str, Any]:
    """``POST /app-manifests/{code}/conversions`` (no authentication); GitHub answers 201 with the app."""
    response = requests.post(
        setup_flow.conversion_url(api_url, code),
        headers={
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        },
        timeout=CONVERSION_TIMEOUT_S,
    )
    if response.status_code != 201:
        try:
            detail = str(response.json().get("message") or "")
        except ValueError:
            detail = ""
        raise setup_flow.SetupError(
            f"GitHub answered {response.status_code} to the code exchange{': ' + detail if detail else ''}."
            " Codes are valid for one hour and only once; start again."
        )
    body = response.json()
    if not isinstance(body, dict):
        raise setup_flow.SetupError("GitHub's answer to the code exchange is not an object")
    return body


@blueprint.get("/setup/callback")
def setup_callback():  # type: ignore[no-untyped-def]
    runtime = _runtime()
    code = request.args.get("code")
    try:
        state_ok = claim_state(runtime, request.args.getlist("state"))
    except (RedisError, OSError) as exc:
        log.warning("setup: Redis did not answer: %s", exc)
        return _error("Redis did not answer; try the registration again.", 503)
    if not state_ok:
        return _error("This registration link is unknown or expired. Start again from the setup page.", 400)
    if not setup_flow.valid_code(code):
        return _error("GitHub did not send a usable code back. Start again from the setup page.", 400)
    try:
        conversion = exchange_code(runtime.settings.github_api_url, code or "")
        updates = setup_flow.env_updates(conversion)
    except setup_flow.SetupError as exc:
        return _error(str(exc), 502)
    except requests.RequestException as exc:
        return _error(f"GitHub could not be reached for the code exchange ({type(exc).__name__}).", 502)
    path = env_path()
    try:
        setup_flow.write_env(path, updates)
    except OSError as exc:
        return _error(f"The credentials could not be written to {ENV_FILE}: {exc.strerror}.", 500)
    log.info("setup: registered GitHub App %s; credentials written to %s", updates["APP_ID"], ENV_FILE)
    html_url = str(conversion.get("html_url") or "")
    registered = {
        "id": updates["APP_ID"],
        "slug": conversion.get("slug") or "",
        "name": conversion.get("name") or "",
        "html_url": html_url,
        "install_url": setup_flow.install_url(html_url) if html_url else "",
        "written": sorted(updates),
        "webhook_secret_missing": "WEBHOOK_SECRET" not in updates,
    }
    return _page("setup_done.html", registered=registered)
