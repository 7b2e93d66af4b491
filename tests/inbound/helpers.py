"""Small helpers shared by the inbound tests: signed requests and looks into the real stores."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import Engine, func, select
from werkzeug.serving import make_server

from ghapp.pod.signing import sign
from ghapp.runtime import QUEUE_NAME
from ghapp.store.schema import inbox, outbox, task_events, tasks, workstreams
from ghapp.sync.arrivals import ARRIVALS_KEY
from ghapp.sync.queue import APPLY_DELIVERIES
from ghapp.webhook_sender import hub_signature

WEBHOOK_SECRET = "test-webhook-secret"
POD_SECRET = "test-pod-secret"


def github_headers(
    body: bytes,
    event: str = "pull_request",
    guid: str | None = None,
    secret: str = WEBHOOK_SECRET,
    content_type: str = "application/json",
) -> dict[str, str]:
    """The headers GitHub sends with a delivery, signed with ``secret``."""
    signature = hub_signature(secret, body)
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
        "Content-Type": content_type,
        "User-Agent": "GitHub-Hookshot/test",
    }


def event_body(type_: str, data: dict[str, Any] | None = None, **extra: Any) -> bytes:
    document: dict[str, Any] = {"type": type_, "data": data or {}, "actor_id": "pod", **extra}
    return json.dumps(document).encode()


def pod_headers(body: bytes, secret: str = POD_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(secret, body, timestamp)}


def post_event(
    client: Any, task_id: str, type_: str, data: dict[str, Any] | None = None, **extra: Any
) -> Any:
    """POST a signed pod event through the Flask test client."""
    body = event_body(type_, data, **extra)
    return client.post(f"/api/tasks/{task_id}/events", data=body, headers=pod_headers(body))


def pod_get(client: Any, path: str) -> Any:
    return client.get(path, headers=sign(POD_SECRET, b""))


def workstream(
    ws_id: str, repo: str = "octo/api", deps: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "workstream_id": ws_id,
        "spec": f"Build {ws_id}\n\nDetails of {ws_id}.",
        "repo": repo,
        "branch": "main",
        "dependencies": deps or [],
        **extra,
    }


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def stored_counts(engine: Engine) -> dict[str, int]:
    return {t.name: count(engine, t) for t in (inbox, tasks, task_events, workstreams, outbox)}


def queued_ids(redis: Redis) -> list[str]:
    """Job ids waiting in ghapp's RQ queue."""
    return Queue(QUEUE_NAME, connection=redis).job_ids


def queued_guids(redis: Redis) -> list[list[str]]:
    """The GUIDs of each waiting delivery job: a batch of arrivals, or one GUID's own job."""
    jobs = [Job.fetch(job_id, connection=redis) for job_id in queued_ids(redis)]
    return [list(job.args[0]) if job.func_name == APPLY_DELIVERIES else [job.args[0]] for job in jobs]


def announced(redis: Redis) -> list[str]:
    """GUIDs the webhook view announced that no worker has taken yet (``ghapp.sync.arrivals``)."""
    return [guid.decode() for guid in redis.lrange(ARRIVALS_KEY, 0, -1)]


def nothing_stored(engine: Engine, redis: Redis) -> bool:
    return all(n == 0 for n in stored_counts(engine).values()) and not queued_ids(redis) and not announced(redis)


class ServerThread:
    """A WSGI app served on 127.0.0.1 at a free port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
