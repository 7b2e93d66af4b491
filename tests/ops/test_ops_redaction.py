"""No token reaches a person, whatever its shape: the status page, ``ghapp status``, notices and error answers."""

from __future__ import annotations

import pytest
import requests
from ops_seed import STATUS_TOKEN, seed_notice, seed_task, seed_workstream

from ghapp.pod import notices
from ghapp.status_report import load_report, render_report
from ghapp.store import tasks as task_store
from ghapp.testing.auth import installation_token
from ghapp.web import pod_api, webhooks

FORMATS = ("stateless", "classic")


def _token(fmt: str) -> str:
    return installation_token(fmt, app_id=424242, installation_id=7, issued_at=1.7e9, expires_at=1.7e9 + 3600)


def _pieces(token: str) -> list[str]:
    """The whole token and every part of it a dot-bounded pattern would have left behind."""
    return [token, *(part for part in token.split(".") if len(part) > 8)]


def _assert_clean(text: str, token: str) -> None:
    for piece in _pieces(token):
        assert piece not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_page_and_status_command_redact_errors(ops_app, serve, fmt):  # type: ignore[no-untyped-def]
    token = _token(fmt)
    served = serve(ops_app(status_token=STATUS_TOKEN))
    engine = served.runtime.engine
    seed_task(engine, "task-r", title="Redaction")
    seed_workstream(engine, "task-r", "ws-r", "acme/app", status="pending", last_error=f"GitHub refused {token}.")
    seed_notice(engine, "notice-r", "task-r", "pr_opened", "failed", last_error=f"pod echoed token {token}")
    page = requests.get(served.url + "/", auth=("ops", STATUS_TOKEN), timeout=10)
    assert page.status_code == 200
    assert "GitHub refused [redacted]." in page.text
    _assert_clean(page.text, token)
    report = "\n".join(render_report(load_report(served.runtime, "task-r")))
    assert "[redacted]" in report
    _assert_clean(report, token)


@pytest.mark.parametrize("fmt", FORMATS)
def test_notices_never_carry_a_token(ops_app, fmt):  # type: ignore[no-untyped-def]
    token = _token(fmt)
    runtime = ops_app().extensions["ghapp"]
    with runtime.engine.begin() as conn:
        notices.append_notice(
            conn, "task-n", "sync_failed", "ws/sync_failed:1", {"error": f"push with {token} failed", "n": 1}
        )
    with runtime.engine.connect() as conn:
        entry = task_store.load_log(conn, "task-n")[-1]
    assert entry.data == {"error": "push with [redacted] failed", "n": 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_answers_never_carry_a_token(ops_app, fmt):  # type: ignore[no-untyped-def]
    token = _token(fmt)
    app = ops_app()
    with app.test_request_context("/api/tasks/x/events"):
        for error in (pod_api.error, webhooks.error):
            response, status = error(422, f"refused {token}", fields={"token": token})
            body = response.get_data(as_text=True)
            assert status == 422 and "refused [redacted]" in body
            _assert_clean(body, token)
