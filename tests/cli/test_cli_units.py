"""The CLI's pure parts, table-driven: refusal lines, demo lines, status tables, the simulated environment;
plus ``--help`` on every command and the one-line errors that need no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from cli_helpers import one_line

from ghapp.cli import _with_own_bin_on_path, demo_command, main, unreachable
from ghapp.demo import WORKSTREAMS, find_notice, notice_line
from ghapp.pod.client import refusal_line
from ghapp.status_model import Notice, Overview, SweepView, TaskView, WorkstreamView
from ghapp.status_report import StatusReport, format_table, render_report, sweep_line
from ghapp.testing.simulated_github import simulated_env

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (409, {"error": "stale expected_version", "current_version": 7},
         "409: stale expected_version (the task is at version 7)"),
        (422, {"error": "invalid event", "fields": {"data.repo": "must be owner/name", "type": "is unknown"}},
         "422: invalid event: data.repo must be owner/name; type is unknown"),
        (401, {"error": "The X-Pod-Timestamp header is missing."}, "401: The X-Pod-Timestamp header is missing."),
        (502, "<html>\n bad gateway\n</html>", "502: <html> bad gateway </html>"),
        (500, {}, "500: no explanation given"),
        (409, {"error": "task is completed", "current_version": None}, "409: task is completed"),
    ],
)
def test_refusal_line(status, body, expected):
    assert refusal_line(status, body) == expected


WS = {ws.workstream_id: ws for ws in WORKSTREAMS}


def _notice(type_: str, ws: str = "ws-api", **data: object) -> dict:
    return {"kind": "notice", "type": type_, "version": 9, "data": {"workstream_id": ws, "pr_number": 1, **data}}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (_notice("pr_opened", draft=True), "\u2713 draft PR acme/api#1 opened"),
        (_notice("pr_opened", ws="ws-web", draft=False), "\u2713 PR acme/web#1 opened"),
        (_notice("checks_completed", conclusion="success"), "\u2713 CI green on acme/api#1"),
        (_notice("checks_completed", conclusion="failure"), "\u2717 CI failure on acme/api#1"),
        (_notice("pr_ready"), "\u2713 acme/api#1 marked ready for review"),
        (_notice("approval_requested"), "\u2713 ghapp asked the pod to approve ws-api"),
        (_notice("review_submitted", user="alice", state="APPROVED"), "\u2713 review approved by alice"),
        (_notice("review_submitted", user="bob", state="CHANGES_REQUESTED"),
         "\u2713 review by bob: changes requested"),
        (_notice("pr_merged"), "\u2713 merged acme/api#1"),
        (_notice("pr_merged", ws="ws-web"), "\u2713 merged acme/web#1 (after its dependency)"),
        (_notice("sync_failed", reason="boom"), "\u2717 ghapp could not sync ws-api: boom"),
        (_notice("workstream_blocked", reason="base_branch_missing"), "\u2026 ws-api is held: base_branch_missing"),
        (_notice("merge_blocked", reason="missing_requirement", missing=["reviews:1"],
                 message="At least 1 approving review is required by reviewers with write access."),
         "\u2026 acme/api#1 is held: At least 1 approving review is required by reviewers with write access."),
        (_notice("merge_blocked", reason="behind", message=""),
         "\u2026 acme/api#1 is held: behind"),
        (_notice("merge_conflict", head_sha="abc"), "\u2717 acme/api#1 conflicts with its base"),
        (_notice("stack_retargeted", parent="ws-base", to="main"),
         "\u2026 acme/api#1 targets main again: the PR of ws-base was closed"),
        (_notice("checks_stalled", pending=["ci/test", "lint"]),
         "\u2717 checks still pending on acme/api#1: ci/test, lint"),
        (_notice("pr_converted_to_draft"),
         "\u2026 acme/api#1 was turned back into a draft by a person; ghapp leaves it so"),
        (_notice("pr_comment", user="x", body="hi"), None),
        ({"kind": "pod", "type": "workstream_created", "version": 2, "data": {"workstream_id": "ws-api"}}, None),
    ],
)
def test_notice_line(entry, expected):
    assert notice_line(entry, WS) == expected


def test_find_notice_matches_type_workstream_and_data():
    entries = [_notice("checks_completed", head_sha="a"), _notice("checks_completed", head_sha="b"),
               _notice("checks_completed", ws="ws-web", head_sha="b")]
    assert find_notice(entries, "checks_completed", "ws-api", head_sha="b") is entries[1]
    assert find_notice(entries, "checks_completed", "ws-api", head_sha="c") is None
    assert find_notice(entries, "pr_merged", "ws-api") is None


def test_format_table_aligns_columns_and_trims():
    lines = format_table(("A", "LONGER"), [["xyz", ""], ["q", "w"]], indent="  ")
    assert lines == ["  A    LONGER", "  xyz", "  q    w"]


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        (None, "sweep: not yet run"),
        (SweepView(300, "budget plenty", None, None), "sweep: every 5m \u2014 budget plenty"),
        (SweepView(90, "", (NOW - timedelta(seconds=30)).isoformat(), (NOW + timedelta(seconds=60)).isoformat()),
         "sweep: every 1m 30s (last run 30s ago, next 1m from now)"),
    ],
)
def test_sweep_line(sweep, expected):
    assert sweep_line(sweep, NOW) == expected


def _ws(ws_id: str, **fields: object) -> WorkstreamView:
    base = dict(workstream_id=ws_id, repo="acme/api", base="main", head_branch=f"ghapp/t/{ws_id}", status="pending",
                pr_number=None, pr_url=None, pr_state=None, approval=None, checks=None, last_error=None,
                last_notice=None)
    base.update(fields)
    return WorkstreamView(**base)  # type: ignore[arg-type]


def _overview(**extra: object) -> Overview:
    task = TaskView("t-1", "Ship it", "workstream_execution", 5, NOW - timedelta(minutes=2), [
        _ws("ws-a", status="in_review", pr_number=3, pr_url="https://github.test/acme/api/pull/3", pr_state="open",
            approval="requested", checks="success",
            last_notice=Notice("approval_requested", NOW - timedelta(seconds=5))),
        _ws("ws-b", last_error="GitHub answered 422"),
    ])
    overview = Overview(tasks=[task], deliveries=[], failed_deliveries=[], failed_notices=[], failed_workstreams=[],
                        sweep=None, queue_depth={"arriving": 0, "queued": 2, "started": 1, "scheduled": 0, "failed": 0})
    for key, value in extra.items():
        setattr(overview, key, value)
    return overview


def test_render_report_all_tasks():
    lines = render_report(StatusReport(_overview()), NOW)
    dot = " \u00b7 "
    assert lines[0] == f"task t-1{dot}Ship it{dot}phase workstream_execution{dot}version 5{dot}updated 2m ago"
    assert lines[1].split() == ["WORKSTREAM", "PR", "STATE", "STATUS", "APPROVAL", "CHECKS", "LAST", "NOTICE"]
    assert lines[2].split() == ["ws-a", "acme/api#3", "open", "in_review", "requested", "success",
                                "approval_requested", "(5s", "ago)"]
    assert lines[3].split() == ["ws-b", "-", "-", "pending", "-", "-", "-"]
    assert "queue: 0 arriving, 2 queued, 1 running, 0 scheduled, 0 failed" in lines
    assert "failures: 0 failed deliveries, 0 undelivered notices, 0 workstreams with errors" in lines
    assert lines[-1] == "sweep: not yet run"
    assert not any("https://" in line for line in lines), "URLs only in the one-task view"


def test_render_report_one_task_shows_urls_and_errors_and_queue_trouble():
    report = StatusReport(_overview(queue_error="Redis did not answer (ConnectionError)"), task_id="t-1")
    lines = render_report(report, NOW)
    assert lines[1].split()[-1] == "URL"
    assert lines[2].endswith("https://github.test/acme/api/pull/3")
    assert "  ! ws-b: GitHub answered 422" in lines
    assert "queue: unknown, Redis did not answer (ConnectionError)" in lines
    assert not any(line.startswith("failures:") for line in lines)


def test_render_report_without_tasks():
    overview = _overview(tasks=[])
    assert render_report(StatusReport(overview), NOW)[0] == "no tasks yet"


def test_simulated_env_points_ghapp_at_the_simulator():
    info = {"app_id": 424242, "private_key_pem": "PEM", "webhook_secret": "hook", "url": "http://127.0.0.1:9"}
    env = simulated_env(info, "given")
    assert env == {"APP_ID": "424242", "PRIVATE_KEY": "PEM", "PRIVATE_KEY_PATH": "", "WEBHOOK_SECRET": "hook",
                   "GITHUB_API_URL": "http://127.0.0.1:9", "GHE_HOST": "", "POD_SECRET": "given"}
    generated = simulated_env(info, None)["POD_SECRET"]
    assert len(generated) == 40 and generated != simulated_env(info, None)["POD_SECRET"]


def test_demo_command_and_path():
    line = demo_command("4000", "http://127.0.0.1:5000")
    assert line.endswith("-m ghapp.cli demo --url http://127.0.0.1:4000 --sim-url http://127.0.0.1:5000 --keep-running")
    import os
    import sys

    own = os.path.dirname(sys.executable)
    assert _with_own_bin_on_path(f"/usr/bin{os.pathsep}{own}") == f"{own}{os.pathsep}/usr/bin"
    assert _with_own_bin_on_path("") == own


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.ConnectionError("HTTPConnectionPool(...): Max retries exceeded (Caused by NewConnectionError("
                                  "'...: Failed to establish a new connection: [Errno 111] Connection refused'))"),
         "could not reach http://x (connection refused)"),
        (requests.ReadTimeout("read timed out"), "could not reach http://x (timed out)"),
        (requests.ConnectionError("something else"), "could not reach http://x (ConnectionError)"),
    ],
)
def test_unreachable_is_short(exc, expected):
    assert unreachable("http://x", exc) == expected


COMMANDS = ["serve", "worker", "migrate", "config", "receive", "check", "event", "status", "redeliver", "demo"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_on_every_command(invoke, command):
    result = invoke([command, "--help"] if command else ["--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: ghapp {command or ''}".rstrip())
    if command is None:
        for name in COMMANDS:
            assert f"  {name}" in result.output


def test_group_lists_exactly_these_commands():
    assert set(main.commands) == set(COMMANDS)


@pytest.mark.parametrize(
    ("args", "env", "code", "expected"),
    [
        (["event", "t-1", "task_created", "--data", "{oops"], {"POD_SECRET": "s"}, 2,
         "ghapp: --data is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (["event", "t-1", "task_created", "--data", "[1]"], {"POD_SECRET": "s"}, 2,
         "ghapp: --data must be a JSON object, such as '{\"workstream_id\": \"ws-1\"}'"),
        (["event", "t-1", "task_created"], {}, 2, "ghapp: POD_SECRET is not set, so the event cannot be signed"),
        (["event", "t-1"], {"POD_SECRET": "s"}, 2, "ghapp: Missing argument 'TYPE'. (see 'ghapp event --help')"),
        (["redeliver", "--since", "soon"], {}, 2,
         "ghapp: --since takes a duration such as 30m, 2h or 1d, got 'soon'"),
        (["redeliver", "--since", "2h"], {}, 2,
         "ghapp: no GitHub App is configured: set APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET"),
        (["demo"], {}, 2, "ghapp: POD_SECRET is not set, so the demo cannot sign the pod's events"),
        (["nope"], {}, 2, "ghapp: No such command 'nope'. (see 'ghapp --help')"),
        (["status", "no-such-task"], {}, 1, "ghapp: no task 'no-such-task' in the database"),
    ],
)
def test_errors_are_one_line_on_stderr(invoke, tmp_path, args, env, code, expected):
    if args[0] == "status":
        from ghapp.store.migrate import upgrade

        url = f"sqlite:///{tmp_path / 'status.sqlite3'}"
        upgrade(url)
        env = {**env, "DATABASE_URL": url}
    result = invoke(args, env)
    assert result.exit_code == code, result.output
    assert one_line(result.stderr) == expected
    assert result.stdout == ""


def test_event_to_a_server_that_is_not_there(invoke):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke(["event", "t-1", "task_created", "--url", f"http://127.0.0.1:{port}"], {"POD_SECRET": "s"})
    assert result.exit_code == 1
    assert one_line(result.stderr) == f"ghapp: could not reach http://127.0.0.1:{port} (connection refused)"


def test_status_on_a_database_without_tables_is_one_line(invoke, tmp_path):
    result = invoke(["status"], {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith("ghapp: cannot read the database (no such table") and "ghapp migrate" in line
