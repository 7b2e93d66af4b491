"""The pure parts of registering ghapp's GitHub App from its manifest (``app.yml``).

GitHub's manifest flow has three steps: the browser POSTs the manifest to
GitHub's "new app" page, GitHub sends the browser back to our
``redirect_url`` with a one-hour ``code``, and we exchange the code for the
app's id, private key and secrets (``POST /app-manifests/{code}/conversions``),
which land in ``.env``. The web side is ``ghapp.web.setup``; this module
decides the URLs, builds the manifest and writes ``.env``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

MANIFEST_FILE = "app.yml"
CALLBACK_PATH = "/setup/callback"
# Keys of app.yml that GitHub's manifest accepts; anything else in the file is left out.
MANIFEST_KEYS = (
    "name",
    "url",
    "description",
    "public",
    "default_events",
    "default_permissions",
    "callback_urls",
    "setup_url",
    "request_oauth_on_install",
    "setup_on_update",
)
# GitHub hands out conversion codes as hex strings; anything else never reaches the API URL.
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class SetupError(ValueError):
    """The manifest or the conversion answer is unusable; the message says why."""


def github_web_url(api_url: str) -> str:
    """The browser-facing root of the GitHub that ``api_url`` belongs to.

    ``https://api.github.com`` -> ``https://github.com``; a GitHub Enterprise
    Server API (``https://ghe.example.com/api/v3``) -> ``https://ghe.example.com``;
    GHE.com's ``https://api.acme.ghe.com`` -> ``https://acme.ghe.com``; any other
    URL (a simulator) -> its scheme and host.
    """
    parts = urlsplit(api_url.strip())
    if not parts.scheme or not parts.netloc:
        raise SetupError(f"not an absolute URL: {api_url!r}")
    host = parts.netloc
    if host == "api.github.com":
        host = "github.com"
    elif host.startswith("api.") and host.endswith(".ghe.com"):
        host = host[len("api.") :]
    return f"{parts.scheme}://{host}"


def new_app_url(api_url: str, organization: str | None = None, state: str | None = None) -> str:
    """Where the browser POSTs the manifest: a personal account's or an organization's "new app" page.

    GitHub passes ``state`` back to the ``redirect_url`` with the code.
    """
    base = github_web_url(api_url)
    path = f"/organizations/{quote(organization, safe='')}/settings/apps/new" if organization else "/settings/apps/new"
    query = f"?{urlencode({'state': state})}" if state else ""
    return f"{base}{path}{query}"


def find_manifest_path(cwd: Path, package_dir: Path | None = None) -> Path | None:
    """``app.yml`` in the working directory (the deployed project), else the one packaged with ghapp."""
    candidates = [cwd / MANIFEST_FILE]
    package_dir = package_dir if package_dir is not None else Path(__file__).resolve().parent
    candidates.append(package_dir / MANIFEST_FILE)
    return next((path for path in candidates if path.is_file()), None)


def load_app_yml(path: Path) -> dict[str, Any]:
    """Read ``app.yml`` as a mapping, with errors that name the file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SetupError(f"{path.name} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SetupError(f"{path.name} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise SetupError(f"{path.name} must be a mapping of manifest fields")
    return dict(data)


def callback_url(public_base: str, state: str) -> str:
    return f"{public_base.rstrip('/')}{CALLBACK_PATH}?{urlencode({'state': state})}"


def build_manifest(app_yml: Mapping[str, Any], public_base: str, webhook_path: str, state: str) -> dict[str, Any]:
    """The manifest GitHub receives: ``app.yml``'s fields plus where this deployment listens.

    ``hook_attributes.url`` is the public webhook URL and ``redirect_url``
    brings the browser back to ``/setup/callback`` carrying ``state``.
    """
    base = public_base.rstrip("/")
    manifest = {key: app_yml[key] for key in MANIFEST_KEYS if key in app_yml}
    manifest.setdefault("url", base)
    hook = dict(app_yml.get("hook_attributes") or {})
    hook["url"] = f"{base}{webhook_path}"
    hook.setdefault("active", True)
    manifest["hook_attributes"] = hook
    manifest["redirect_url"] = callback_url(base, state)
    return manifest


def valid_code(code: str | None) -> bool:
    """Whether ``code`` can safely be put into the conversion URL."""
    return bool(code) and _CODE.match(code or "") is not None


def conversion_url(api_url: str, code: str) -> str:
    if not valid_code(code):
        raise SetupError("the code GitHub sent back is malformed")
    return f"{api_url.rstrip('/')}/app-manifests/{code}/conversions"


def one_line_pem(pem: str) -> str:
    """A PEM on one line with literal ``\\n``, the form Heroku config vars and ghapp's ``PRIVATE_KEY`` accept."""
    return pem.strip().replace("\r\n", "\n").replace("\n", "\\n")


def env_updates(conversion: Mapping[str, Any]) -> dict[str, str]:
    """The ``.env`` entries from GitHub's conversion answer.

    ``webhook_secret`` may be null (when the manifest has no webhook); then
    ``WEBHOOK_SECRET`` is left for the operator to set.
    """
    try:
        app_id = int(conversion["id"])
        pem = str(conversion["pem"])
    except (KeyError, TypeError, ValueError):
        raise SetupError("GitHub's answer has no app id or private key") from None
    if "PRIVATE KEY" not in pem:
        raise SetupError("GitHub's answer has no PEM private key")
    updates = {"APP_ID": str(app_id), "PRIVATE_KEY": one_line_pem(pem)}
    for env_name, key in (
        ("WEBHOOK_SECRET", "webhook_secret"),
        ("GITHUB_CLIENT_ID", "client_id"),
        ("GITHUB_CLIENT_SECRET", "client_secret"),
    ):
        value = conversion.get(key)
        if value:
            updates[env_name] = str(value)
    return updates


def write_env(path: Path, updates: Mapping[str, str]) -> None:
    """Create or update ``.env``: the given keys are set (quoted), every other line is kept.

    python-dotenv's ``set_key`` rewrites through a temporary file and keeps
    the file's mode; a new file is created readable by its owner only.
    """
    from dotenv import set_key

    for key, value in updates.items():
        set_key(path, key, value, quote_mode="always")


def install_url(html_url: str) -> str:
    """Where the operator installs the new app on accounts and repositories."""
    return f"{html_url.rstrip('/')}/installations/new"
