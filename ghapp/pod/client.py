"""Signed calls to ghapp's pod API, as the pod makes them.

Shared by ``ghapp event``, the demo driver and the end-to-end test stack, so
every caller signs requests the one way the server checks them
(``ghapp.pod.signing``).
"""

from __future__ import annotations

import json
from typing import Any

import requests

from ghapp.pod.signing import sign


class PodClient:
    """The pod's side of ``/api/tasks/...``: post signed events, read tasks and their logs."""

    def __init__(self, base_url: str, secret: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout
        self.session = requests.Session()

    def post_event(
        self,
        task_id: str,
        type_: str,
        data: dict[str, Any] | None = None,
        *,
        actor_id: str = "pod",
        expected_version: int | None = None,
    ) -> requests.Response:
        payload: dict[str, Any] = {"type": type_, "data": data or {}, "actor_id": actor_id}
        if expected_version is not None:
            payload["expected_version"] = expected_version
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **sign(self.secret, body)}
        return self.session.post(
            f"{self.base_url}/api/tasks/{task_id}/events", data=body, headers=headers, timeout=self.timeout
        )

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", headers=sign(self.secret, b""), timeout=self.timeout)

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.get(f"/api/tasks/{task_id}")
        response.raise_for_status()
        return response.json()

    def events_page(self, task_id: str, after: int = 0, limit: int = 500) -> dict[str, Any]:
        """One page of the task's log after version ``after`` (``events``, ``next_after``)."""
        response = self.get(f"/api/tasks/{task_id}/events?after={after}&limit={limit}")
        response.raise_for_status()
        return response.json()

    def events(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Every log entry after version ``after``, following the pages to the end."""
        entries: list[dict[str, Any]] = []
        while True:
            page = self.events_page(task_id, after)
            entries.extend(page["events"])
            if not page.get("next_after") or page["next_after"] == after:
                return entries
            after = page["next_after"]


def refusal_line(status: int, body: Any) -> str:
    """One line saying why the pod API refused an event, from its status and JSON answer.

    409 carries the task's ``current_version``; 422 carries one sentence per
    field in ``fields``. Anything else is shown with its ``error`` text.
    """
    message = body.get("error") if isinstance(body, dict) else None
    text = str(message or (body if isinstance(body, str) and body else "no explanation given")).strip()
    text = " ".join(text.split())
    line = f"{status}: {text}"
    if isinstance(body, dict):
        if status == 409 and body.get("current_version") is not None:
            line += f" (the task is at version {body['current_version']})"
        fields = body.get("fields")
        if isinstance(fields, dict) and fields:
            line += ": " + "; ".join(f"{name} {' '.join(str(why).split())}" for name, why in sorted(fields.items()))
    return line
