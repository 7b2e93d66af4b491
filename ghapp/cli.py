"""The ``ghapp`` command: run the processes, operate the app, and try it out.

Errors are one clear line on stderr and a non-zero exit status. Each command
imports what it drives inside its function (start-up cost): ``ghapp --help`` or
``ghapp receive`` need not load the worker, the web app or the simulator.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ghapp.config import ConfigError, Settings, get_settings

PROCFILE_DEFAULTS = {
    "web": "gunicorn --workers ${WEB_CONCURRENCY:-2} --bind 0.0.0.0:${PORT:-3000} 'ghapp.web:create_app()'",
    "worker": "ghapp worker",
}


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear line and exit non-zero."""
    click.echo(f"ghapp: {message}", err=True)
    sys.exit(code)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        fail(f"configuration error: {exc}", code=2)


def procfile_processes(path: Path = Path("Procfile")) -> dict[str, str]:
    """The process types to run: the Procfile's ``web`` and ``worker`` (release runs before them)."""
    if not path.exists():
        return dict(PROCFILE_DEFAULTS)
    from honcho.environ import parse_procfile

    processes = parse_procfile(path.read_text()).processes
    return {name: cmd for name, cmd in processes.items() if name in ("web", "worker")}


class OneLineErrors(click.Group):
    """A command group whose usage errors are one line too (click's own span several)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(f"ghapp: {' '.join(exc.format_message().split())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("ghapp: interrupted", err=True)
            sys.exit(130)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--fork", is_flag=True, help="Fork a child per job (RQ's default) instead of running jobs in-process.")
@click.option("--name", default=None, help="Worker name shown in RQ's registries.")
def worker(burst: bool, fork: bool, name: str | None) -> None:
    """Run an RQ worker (with the scheduler) on ghapp's queue."""
    from ghapp import logs
    from ghapp.runtime import get_runtime
    from ghapp.sync.worker import run_worker

    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        run_worker(get_runtime(), burst=burst, fork=fork, name=name)
    except ConfigError as exc:
        fail(str(exc), code=2)


@main.command(name="config")
def show_config() -> None:
    """Print the settings in force, with every secret masked."""
    settings = load_settings()
    for key, value in settings.describe().items():
        click.echo(f"{key} = {value}")


def unreachable(base: str, exc: Exception) -> str:
    """A short reason a server could not be reached (requests' own message runs to several hundred characters)."""
    import requests

    text = str(exc)
    if isinstance(exc, requests.Timeout):
        why = "timed out"
    elif "Connection refused" in text or "ECONNREFUSED" in text:
        why = "connection refused"
    elif "Name or service not known" in text or "nodename nor servname" in text:
        why = "unknown host"
    else:
        why = type(exc).__name__
    return f"could not reach {base} ({why})"


def _with_own_bin_on_path(path: str) -> str:
    """PATH with this interpreter's bin directory first, so the Procfile's ``gunicorn`` and ``ghapp`` resolve
    to the ones installed beside this ``ghapp`` even when its virtualenv is not activated (``make run``)."""
    own = str(Path(sys.executable).parent)
    parts = [p for p in path.split(os.pathsep) if p and p != own]
    return os.pathsep.join([own, *parts])


def demo_command(port: str, sim_url: str) -> str:
    """The Procfile-style line that runs the demo driver beside web and worker."""
    return (
        f"{shlex.quote(sys.executable)} -m ghapp.cli demo --url http://127.0.0.1:{port} "
        f"--sim-url {shlex.quote(sim_url)} --keep-running"
    )


@main.command()
@click.option("--port", type=int, default=None, help="Web port (default $PORT or 3000).")
@click.option("--no-demo", is_flag=True,
              help="With no GitHub App configured, serve without the simulated GitHub and the demo "
                   "(e.g. to register an App at /setup).")
def serve(port: int | None, no_demo: bool) -> None:
    """Run web and worker together, as the Procfile declares them (what 'make run' does).

    With no REDIS_URL an embedded Redis is started for the run; with no
    DATABASE_URL a SQLite file under instance/ is used. With no GitHub App
    configured, a simulated GitHub is started as well and a demo task is
    played against it, then ghapp keeps serving. Ctrl-C stops everything.
    """
    from honcho.manager import Manager

    from ghapp.config import instance_dir
    from ghapp.embedded import EmbeddedRedis, EmbeddedRedisUnavailable, published
    from ghapp.store.migrate import upgrade
    from ghapp.testing.simulated_github import SimulatorProcess, SimulatorUnavailable, simulated_env

    settings = load_settings()
    env = dict(os.environ)
    if port is not None:
        env["PORT"] = str(port)
    env.setdefault("PORT", str(settings.port))
    env.setdefault("DATABASE_URL", settings.database_url)
    env["PATH"] = _with_own_bin_on_path(env.get("PATH", ""))
    env.setdefault("PYTHONUNBUFFERED", "1")
    embedded: EmbeddedRedis | None = None
    simulator: SimulatorProcess | None = None
    base = f"http://localhost:{env['PORT']}"
    cleanup = contextlib.ExitStack()
    try:
        if not settings.redis_url:
            try:
                embedded = EmbeddedRedis().start()
            except EmbeddedRedisUnavailable as exc:
                fail(str(exc))
            env["REDIS_URL"] = embedded.url
            cleanup.enter_context(published(embedded.url, instance_dir()))
            click.echo(f"ghapp: REDIS_URL is unset, started an embedded Redis at {embedded.url}")
        upgrade(env["DATABASE_URL"])
        processes = procfile_processes()
        missing = ", ".join(settings.missing_github_settings())
        if not settings.github_configured and no_demo:
            click.echo(
                f"ghapp: no GitHub App configured: set {missing} (in the environment or .env), "
                f"or open {base}/setup to register one"
            )
        elif not settings.github_configured:
            click.echo("ghapp: no GitHub App is configured, starting a simulated GitHub \u2026")
            try:
                simulator = SimulatorProcess(
                    webhook_url=f"http://127.0.0.1:{env['PORT']}{settings.webhook_path}"
                ).start()
            except SimulatorUnavailable as exc:
                fail(str(exc))
            env.update(simulated_env(simulator.info, settings.pod_secret))
            env.setdefault("GITHUB_WRITE_SPACING_SECONDS", "0.2")  # the simulator has no abuse detection to spare
            env.setdefault("LOG_LEVEL", "warning")  # so the demo's steps stand out; LOG_LEVEL=info shows every job
            processes["demo"] = demo_command(env["PORT"], simulator.url)
            for line in simulation_notice(base, simulator.url, missing):
                click.echo(line)
        manager = Manager()
        for name, command in processes.items():
            manager.add_process(name, command, env=env)
        click.echo(f"ghapp: serving on {base} (Ctrl-C stops everything)")
        manager.loop()
    finally:
        cleanup.close()
        if simulator is not None:
            simulator.stop()
        if embedded is not None:
            embedded.stop()
    sys.exit(manager.returncode or 0)


def simulation_notice(base: str, sim_url: str, missing: str) -> list[str]:
    """What ``ghapp serve`` says when it runs on the simulator instead of GitHub."""
    return [
        "ghapp: ------------------------------------------------------------------------------",
        f"ghapp: THIS IS A SIMULATION. ghapp talks to a simulated GitHub at {sim_url},",
        "ghapp: not to github.com, and plays a sample task to its end (the 'demo' lines).",
        f"ghapp: Watch it on the status page: {base}/",
        f"ghapp: To use a real GitHub App, set {missing}",
        "ghapp: (in the environment or .env) and run 'make run' again, or run",
        f"ghapp: 'ghapp serve --no-demo' and open {base}/setup to register a new App.",
        "ghapp: The worker logs warnings only here; set LOG_LEVEL=info to see every job.",
        "ghapp: ------------------------------------------------------------------------------",
    ]


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
        fail(unreachable(base, exc))
    line = f"{response.status_code} {response.reason}: {' '.join(response.text.split())}"
    if response.status_code >= 300:
        fail(f"the server refused the delivery: {line}")
    click.echo(line)


def base_url(url: str | None, settings: Settings) -> str:
    return (url or f"http://localhost:{settings.port}").rstrip("/")


@main.command()
@click.argument("task_id", metavar="TASK")
@click.argument("event_type", metavar="TYPE")
@click.option("--data", "data_text", default="{}", show_default=True, metavar="JSON",
              help="The event's fields, as a JSON object.")
@click.option("--actor", default="operator", show_default=True, help="Who caused the event (its actor_id).")
@click.option("--expected-version", type=int, default=None,
              help="Refuse the event unless the task is still at this version.")
@click.option("--url", default=None, help="ghapp's base URL (default http://localhost:$PORT).")
def event(task_id: str, event_type: str, data_text: str, actor: str, expected_version: int | None,
          url: str | None) -> None:
    """Append one pod event to TASK's log, signed with POD_SECRET, and print the task's new version.

    \b
    Example:
      ghapp event task-1 workstream_completed --data '{"workstream_id": "ws-api"}'
    """
    from ghapp.pod.client import PodClient, refusal_line

    settings = load_settings()
    if not settings.pod_secret:
        fail("POD_SECRET is not set, so the event cannot be signed", code=2)
    try:
        data = json.loads(data_text)
    except ValueError as exc:
        fail(f"--data is not JSON: {exc}", code=2)
    if not isinstance(data, dict):
        fail("--data must be a JSON object, such as '{\"workstream_id\": \"ws-1\"}'", code=2)
    base = base_url(url, settings)
    client = PodClient(base, settings.pod_secret, timeout=15)
    try:
        response = client.post_event(task_id, event_type, data, actor_id=actor, expected_version=expected_version)
    except OSError as exc:
        fail(unreachable(base, exc))
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if response.status_code != 201:
        fail(f"the server refused the event: {refusal_line(response.status_code, body)}")
    click.echo(str(body["version"]))


@main.command()
@click.argument("task_id", metavar="[TASK]", required=False)
def status(task_id: str | None) -> None:
    """Show tasks, their workstreams' PRs and states, the queue, failures and the sweep.

    Reads ghapp's database and Redis directly (run it with ghapp's
    environment); with TASK, shows that task alone in more detail.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from ghapp.config import instance_dir
    from ghapp.embedded import published_url
    from ghapp.runtime import Runtime
    from ghapp.status_report import load_report, render_report

    settings = load_settings()
    if not settings.redis_url and (url := published_url(instance_dir())):
        click.echo(f"ghapp: REDIS_URL is unset, reading the embedded Redis 'ghapp serve' started at {url}", err=True)
        settings = dataclasses.replace(settings, redis_url=url)
    runtime = Runtime(settings)
    try:
        report = load_report(runtime, task_id)
    except LookupError as exc:
        fail(str(exc.args[0]))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"cannot read the database ({reason}); is DATABASE_URL right, and has 'ghapp migrate' run?")
    for line in render_report(report):
        click.echo(line)


@main.command()
@click.option("--since", "since_text", required=True, metavar="DURATION",
              help="How far back to look in GitHub's delivery log: 30m, 2h, 1d (3 days at most, 7 with GHE_HOST).")
def redeliver(since_text: str) -> None:
    """Ask GitHub to redeliver the webhook deliveries that failed in the last DURATION.

    Deliveries ghapp already stored, still in flight, or asked for moments
    ago are left alone. Progress goes to stderr; what was redelivered to
    stdout.
    """
    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError

    from ghapp.github.errors import GitHubError
    from ghapp.runtime import get_runtime
    from ghapp.sync.redelivery import lookback, parse_since, redeliver_since

    settings = load_settings()
    try:
        since = parse_since(since_text, lookback(settings))
    except ValueError as exc:
        fail(str(exc), code=2)
    if not settings.github_configured:
        fail(f"no GitHub App is configured: set {', '.join(settings.missing_github_settings())}", code=2)
    if not settings.redis_url:
        fail("REDIS_URL is not set: redelivery remembers what it asked for in ghapp's Redis", code=2)

    def progress(line: str) -> None:
        click.echo(f"\u2026 {line}", err=True)

    try:
        done = redeliver_since(get_runtime(), since, progress=progress)
    except GitHubError as exc:
        fail(f"GitHub refused: {' '.join(str(exc).split())}")
    except (RedisError, SQLAlchemyError, OSError) as exc:
        fail(f"redelivery failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    for item in done:
        name = item.get("event") or "?"
        if item.get("action"):
            name += f".{item['action']}"
        why = item.get("status") or f"HTTP {item.get('status_code')}"
        click.echo(f"redelivered {item.get('guid')}  {name}  first sent {item.get('delivered_at')}  ({why})")
    click.echo(f"{len(done)} deliveries redelivered")


@main.command()
@click.option("--url", default=None, help="ghapp's base URL (default http://localhost:$PORT).")
@click.option("--sim-url", default=None, help="The GitHub simulator's base URL (default $GITHUB_API_URL).")
@click.option("--timeout", "step_timeout", type=float, default=90.0, show_default=True,
              help="Seconds to wait for each step.")
@click.option("--keep-running", is_flag=True,
              help="Stay up once the demo ends, until stopped (ghapp serve uses it: its process runner "
                   "stops every process as soon as one exits).")
@click.option("--stack", "stacked", is_flag=True,
              help="Play a stack instead: three workstreams in one repository, each on the one below, merged "
                   "bottom-up.")
def demo(url: str | None, sim_url: str | None, step_timeout: float, keep_running: bool, stacked: bool) -> None:
    """Play a sample task to its end against a running ghapp and GitHub simulator.

    Two repositories, a dependency between workstreams, CI, a review and
    the pod's approvals; each step is printed as ghapp reports it. With
    --stack, a stack of three PRs in one repository merged bottom-up.
    """
    import requests

    from ghapp.demo import Demo, DemoFailed
    from ghapp.demo_stack import StackDemo

    settings = load_settings()
    if not settings.pod_secret:
        fail("POD_SECRET is not set, so the demo cannot sign the pod's events", code=2)
    base = base_url(url, settings)
    sim_base = (sim_url or settings.github_api_url).rstrip("/")
    problem = None
    try:
        play = StackDemo if stacked else Demo
        play(base, sim_base, settings.pod_secret, step_timeout=step_timeout).run(click.echo)
    except DemoFailed as exc:
        problem = str(exc)
    except requests.RequestException as exc:
        problem = unreachable(sim_base, exc)
    if problem is not None:
        click.echo(f"ghapp: demo failed: {problem}", err=True)
    else:
        click.echo(f"the task is on the status page: {base}/")
    if keep_running:
        wait_until_stopped()
    if problem is not None:
        sys.exit(1)


def wait_until_stopped() -> None:
    """Sleep until SIGTERM or SIGINT, then return quietly."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def _register_commands_defined_elsewhere() -> None:
    """Attach commands that live next to the code they drive."""
    from ghapp.github.setup_check import check_command

    main.add_command(check_command, name="check")


_register_commands_defined_elsewhere()


if __name__ == "__main__":
    main()
