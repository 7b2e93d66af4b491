"""Rows for the operator's pages to show, written straight into the store's tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from ghapp.store.schema import app_state, inbox, outbox, task_events, tasks, workstreams

STATUS_TOKEN = "status-token-7f3a9c"


def now() -> datetime:
    return datetime.now(UTC)


def seed_task(engine, task_id: str, title: str = "", phase: str = "workstream_execution", version: int = 3) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(
            insert(tasks).values(
                task_id=task_id,
                title=title,
                phase=phase,
                version=version,
                synced_version=version,
                created_at=now(),
                updated_at=now(),
            )
        )


def seed_workstream(engine, task_id: str, workstream_id: str, repo: str, **fields: Any) -> None:  # type: ignore[no-untyped-def]
    values = {
        "task_id": task_id,
        "workstream_id": workstream_id,
        "repo": repo,
        "base": "main",
        "head_branch": f"ghapp/{task_id}/{workstream_id}",
        "status": "pending",
        "observed": {},
        "updated_at": now(),
    }
    values.update(fields)
    with engine.begin() as conn:
        conn.execute(insert(workstreams).values(**values))


def seed_event(engine, task_id: str, version: int, kind: str, type_: str, data: dict[str, Any], age_s: int = 0) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(
            insert(task_events).values(
                task_id=task_id,
                version=version,
                kind=kind,
                type=type_,
                data=data,
                actor_id="tester",
                notice_key=f"{type_}-{version}" if kind == "notice" else None,
                created_at=now() - timedelta(seconds=age_s),
            )
        )


def seed_delivery(
    engine,
    guid: str,
    event: str,
    action: str | None,
    status: str = "processed",
    error: str | None = None,
    age_s: int = 0,
) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(
            insert(inbox).values(
                guid=guid,
                event=event,
                action=action,
                installation_id=1,
                body=b"{}",
                status=status,
                attempts=1 if status != "pending" else 0,
                error=error,
                received_at=now() - timedelta(seconds=age_s),
            )
        )


def seed_notice(engine, notice_id: str, task_id: str, type_: str, status: str, last_error: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                notice_id=notice_id,
                task_id=task_id,
                version=1,
                type=type_,
                payload={"type": type_},
                status=status,
                attempts=5 if status == "failed" else 1,
                last_error=last_error,
                created_at=now(),
            )
        )


def seed_sweep(engine, value: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(insert(app_state).values(key="sweep", value=value, updated_at=now()))


def seed_demo(engine) -> None:  # type: ignore[no-untyped-def]
    """One task with two workstreams (one with a PR), a few deliveries (one failed) and a failed notice."""
    seed_task(engine, "task-demo-1", title="Ship the billing export")
    seed_workstream(
        engine,
        "task-demo-1",
        "ws-api",
        "acme/backend",
        status="in_review",
        pr_number=17,
        pr_url="https://github.com/acme/backend/pull/17",
        pr_state="open",
        approval="requested",
        checks="success",
        head_sha="a" * 40,
    )
    seed_workstream(
        engine,
        "task-demo-1",
        "ws-ui",
        "acme/frontend",
        status="pending",
        last_error="GitHub answered 422: Reference already exists",
    )
    seed_event(engine, "task-demo-1", 1, "pod", "workstream_created", {"workstream_id": "ws-api"})
    seed_event(engine, "task-demo-1", 2, "notice", "pr_opened", {"workstream_id": "ws-api"}, age_s=60)
    seed_event(engine, "task-demo-1", 3, "notice", "approval_requested", {"workstream_id": "ws-api"}, age_s=5)
    seed_event(engine, "task-demo-1", 4, "notice", "sync_failed", {"workstream_id": "ws-ui"})
    seed_delivery(engine, "guid-0001", "pull_request", "opened", age_s=30)
    seed_delivery(engine, "guid-0002", "check_suite", "completed", age_s=20)
    seed_delivery(
        engine, "guid-0003", "pull_request_review", "submitted", status="failed", error="KeyError: 'review'", age_s=10
    )
    seed_delivery(engine, "guid-0004", "push", None, status="pending")
    seed_notice(engine, "notice-ok-1", "task-demo-1", "pr_opened", "delivered")
    seed_notice(
        engine, "notice-bad-1", "task-demo-1", "approval_requested", "failed", last_error="pod answered 500 five times"
    )
