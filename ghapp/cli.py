"""The ``ghapp`` command: run the processes, operate the app, and try it out.

Errors are one clear line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ghapp.config import ConfigError, Settings, get_settings

PROCFILE_DEFAULTS = {
    "web": "gunicorn --workers ${WEB_CONCURRENCY:-2} --bind 0.0.0.0:${PORT:-3000} 'ghapp.web:create_app()'",
    "worker": "ghapp worker",
}


def fail(message: str, code: int = 1) -> None:
    """Print one clear line and exit non-zero."""
    click.echo(f"ghapp: {message}", err=True)
    sys.exit(code)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        fail(f"configuration error: {exc}", code=2)
        raise  # unreachable; keeps type checkers happy


def procfile_processes(path: Path = Path("Procfile")) -> dict[str, str]:
    """The process types to run: the Procfile's ``web`` and ``worker`` (release runs before them)."""
    if not path.exists():
        return dict(PROCFILE_DEFAULTS)
    from honcho.environ import parse_procfile

    processes = parse_procfile(path.read_text()).processes
    return {name: cmd for name, cmd in processes.items() if name in ("web", "worker")}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ghapp: keeps the pod's workstreams in step with GitHub pull requests."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (the Procfile's release phase)."""
    from ghapp.store.migrate import upgrade

    settings = load_settings()
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # one clear line for any driver error
        fail(f"migration failed: {type(exc).__name__}: {exc}")
    click.echo("database schema is up to date")


@main.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of forking one per job.")
@click.option("--name", default=None, help="Worker name shown in RQ's registries.")
def worker(burst: bool, simple: bool, name: str | None) -> None:
    """Run an RQ worker (with the scheduler) on ghapp's queue."""
    from ghapp import logs
    from ghapp.runtime import get_runtime
    from ghapp.sync.worker import run_worker

    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        run_worker(get_runtime(), burst=burst, simple=simple, name=name)
    except ConfigError as exc:
        fail(str(exc), code=2)


@main.command(name="config")
def show_config() -> None:
    """Print the settings in force, with every secret masked."""
    settings = load_settings()
    for key, value in settings.describe().items():
        click.echo(f"{key} = {value}")


@main.command()
@click.option("--port", type=int, default=None, help="Web port (default $PORT or 3000).")
def serve(port: int | None) -> None:
    """Run web and worker together, as the Procfile declares them (what ``make run`` does).

    With no REDIS_URL an embedded Redis is started for the run; with no
    DATABASE_URL a SQLite file under instance/ is used.
    """
    from honcho.manager import Manager

    from ghapp.embedded import EmbeddedRedis, EmbeddedRedisUnavailable
    from ghapp.store.migrate import upgrade

    settings = load_settings()
    env = dict(os.environ)
    if port is not None:
        env["PORT"] = str(port)
    env.setdefault("PORT", str(settings.port))
    env.setdefault("DATABASE_URL", settings.database_url)
    embedded: EmbeddedRedis | None = None
    if not settings.redis_url:
        try:
            embedded = EmbeddedRedis().start()
        except EmbeddedRedisUnavailable as exc:
            fail(str(exc))
        env["REDIS_URL"] = embedded.url
        click.echo(f"ghapp: REDIS_URL is unset, started an embedded Redis at {embedded.url}")
    try:
        upgrade(env["DATABASE_URL"])
        if not settings.github_configured:
            missing = ", ".join(settings.missing_github_settings())
            click.echo(
                f"ghapp: no GitHub App configured: set {missing} (in the environment or .env), "
                f"or open http://localhost:{env['PORT']}/setup to register one"
            )
        manager = Manager()
        for name, command in procfile_processes().items():
            manager.add_process(name, command, env=env)
        click.echo(f"ghapp: serving on http://localhost:{env['PORT']} (Ctrl-C stops everything)")
        manager.loop()
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(manager.returncode or 0)


@main.command()
@click.option("-e", "--event", "event_name", required=True, help="The X-GitHub-Event name, e.g. pull_request.")
@click.option("-p", "--payload", "payload_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A JSON file holding the delivery's payload.")
@click.option("--url", default=None, help="ghapp's base URL (default http://localhost:$PORT).")
def receive(event_name: str, payload_path: str, url: str | None) -> None:
    """Sign a payload file and post it to the running server, as GitHub would."""
    from ghapp.webhook_sender import post_delivery

    settings = load_settings()
    if not settings.webhook_secrets:
        fail("WEBHOOK_SECRET is not set, so the delivery cannot be signed", code=2)
    body = Path(payload_path).read_bytes()
    try:
        json.loads(body)
    except ValueError as exc:
        fail(f"{payload_path} is not JSON: {exc}")
    base = (url or f"http://localhost:{settings.port}").rstrip("/")
    try:
        response = post_delivery(base + settings.webhook_path, event_name, body, settings.webhook_secrets[0])
    except OSError as exc:
        fail(f"could not reach {base}: {exc}")
    click.echo(f"{response.status_code} {response.reason}: {response.text.strip()}")
    if response.status_code >= 300:
        sys.exit(1)


def _register_optional_commands() -> None:
    """Attach commands that live next to the code they drive."""
    try:
        from ghapp.github.check import check_command
    except ImportError:
        return
    main.add_command(check_command, name="check")


_register_optional_commands()


if __name__ == "__main__":
    main()
