"""``ghapp check``: is the GitHub App set up so that ghapp can do its work?

It checks, in order, and says plainly what is wrong:

1. ``APP_ID`` and the private key produce a JWT that verifies with the key's
   public half;
2. GitHub accepts that JWT (``GET /app``);
3. each installation (``GET /app/installations``) grants the permissions and
   subscribes to the events of the manifest ``app.yml``;
4. a token can be minted for each installation, and the repositories it
   covers are listed (``GET /installation/repositories``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from redis import Redis

from ghapp.config import ConfigError, Settings, get_settings
from ghapp.connections import redis_from_url
from ghapp.embedded import EmbeddedRedis
from ghapp.github.app_jwt import AppJwt
from ghapp.github.client import GitHubClient
from ghapp.github.errors import GitHubError
from ghapp.github.manifest import ManifestError, load_manifest, missing_grants
from ghapp.github.tokens import Access


@dataclass
class InstallationReport:
    id: int
    account: str
    repositories: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """What ``ghapp check`` found: facts that hold, and problems to fix."""

    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    app_slug: str | None = None
    installations: list[InstallationReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_jwt(app_id: int, private_key: str) -> str | None:
    """None when a freshly signed app JWT verifies with the key's public half, else the problem."""
    try:
        token = AppJwt(app_id, private_key).token()
        public = serialization.load_pem_private_key(private_key.encode(), password=None).public_key()
        claims = pyjwt.decode(token, public, algorithms=["RS256"], options={"verify_iat": False})  # type: ignore[arg-type]
    except (ValueError, TypeError, pyjwt.PyJWTError) as exc:
        return f"the private key cannot sign a valid app JWT ({type(exc).__name__})"
    if str(claims.get("iss")) != str(app_id):
        return "the app JWT does not name APP_ID as its issuer"
    return None


@contextlib.contextmanager
def _redis_for(settings: Settings, redis: Redis | None) -> Iterator[Redis]:
    """The given connection, else ``REDIS_URL``, else a private embedded server for the check's duration."""
    if redis is not None:
        yield redis
        return
    if settings.redis_url:
        client = redis_from_url(settings.redis_url)
        try:
            yield client
        finally:
            client.close()
        return
    with EmbeddedRedis() as server:
        client = Redis.from_url(server.url)
        try:
            yield client
        finally:
            client.close()


def _check_installation(
    client: GitHubClient, item: dict[str, Any], required: tuple[dict[str, str], tuple[str, ...]]
) -> InstallationReport:
    account = (item.get("account") or {}).get("login") or "?"
    report = InstallationReport(id=int(item["id"]), account=str(account))
    if item.get("suspended_at"):
        report.problems.append("the installation is suspended")
        return report
    report.problems.extend(
        missing_grants(required[0], item.get("permissions") or {}, required[1], item.get("events") or [])
    )
    try:
        repos = client.installation_pages(
            report.id, Access.METADATA_READ, "/installation/repositories", items_key="repositories"
        )
        report.repositories = sorted(str(r.get("full_name")) for r in repos)
    except GitHubError as exc:
        report.problems.append(f"cannot list its repositories: {exc}")
    return report


def run_check(
    settings: Settings, redis: Redis | None = None, manifest_path: Path | str | None = None, **client_options: Any
) -> CheckReport:
    """Run every check; never raises for a problem it can describe."""
    report = CheckReport()
    if settings.app_id is None or not settings.private_key:
        missing = [n for n, v in (("APP_ID", settings.app_id), ("PRIVATE_KEY", settings.private_key)) if not v]
        report.problems.append(f"{' and '.join(missing)} not set, so ghapp cannot authenticate as a GitHub App")
        return report
    try:
        manifest = load_manifest(manifest_path)
    except ManifestError as exc:
        report.problems.append(str(exc))
        return report
    problem = verify_jwt(settings.app_id, settings.private_key)
    if problem:
        report.problems.append(problem)
        return report
    report.facts.append(f"APP_ID {settings.app_id} and the private key sign a valid JWT")
    with _redis_for(settings, redis) as conn:
        client = GitHubClient.from_settings(settings, conn, **client_options)
        try:
            _check_with_github(client, settings, manifest, report)
        finally:
            client.close()
    return report


def _check_with_github(client: GitHubClient, settings: Settings, manifest: Any, report: CheckReport) -> None:
    try:
        app = client.app_request("GET", "/app").data or {}
    except GitHubError as exc:
        report.problems.append(f"GitHub did not accept the app at {settings.github_api_url}: {exc}")
        return
    report.app_slug = app.get("slug")
    report.facts.append(f"GitHub knows the app as {app.get('name')!r} (slug {app.get('slug')}) at {client.api_url}")
    try:
        installations = list(client.app_pages("/app/installations", params={"per_page": 100}))
    except GitHubError as exc:
        report.problems.append(f"cannot list the app's installations: {exc}")
        return
    if not installations:
        report.problems.append("the app is not installed anywhere yet; install it on the repositories to sync")
        return
    required = (manifest.permissions, manifest.events)
    for item in installations:
        inst = _check_installation(client, item, required)
        report.installations.append(inst)
        where = f"installation {inst.id} ({inst.account})"
        for problem in inst.problems:
            report.problems.append(f"{where}: {problem}")
        if not inst.problems:
            repos = ", ".join(inst.repositories) or "no repositories"
            report.facts.append(f"{where} grants what {manifest.path.name} asks for; covers {repos}")


@click.command("check")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The app manifest to compare installations with (default: app.yml).",
)
def check_command(manifest_path: Path | None) -> None:
    """Check the GitHub App's credentials, installations and permissions against app.yml."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        click.echo(f"ghapp check: configuration error: {exc}", err=True)
        sys.exit(2)
    try:
        report = run_check(settings, manifest_path=manifest_path)
    except Exception as exc:  # anything unforeseen is still one line, never a traceback with secrets
        click.echo(f"ghapp check: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    for fact in report.facts:
        click.echo(f"ok: {fact}")
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if not report.ok:
        sys.exit(1)
    click.echo("ghapp check: everything needed is in place")
