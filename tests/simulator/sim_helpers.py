"""Helpers of the simulator's own tests: a settable clock, a webhook receiver, an installed repository."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from ghapp.testing import GitHubSimulator


class FakeClock:
    """A settable clock for the simulator: tests move time instead of waiting."""

    def __init__(self, start: float | None = None) -> None:
        self.now = start if start is not None else time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on loopback that records webhook deliveries."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[tuple[str, str | None]]:
        with self.lock:
            return [(r.headers["X-GitHub-Event"], r.payload.get("action")) for r in self.received]


@dataclass
class Setup:
    sim: GitHubSimulator
    installation_id: int
    headers: dict[str, str]
    repo: str = "acme/app"

    def jwt_headers(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sim.app_jwt(**claims)}", "Accept": "application/vnd.github+json"}

    def mint(self, installation_id: int | None = None, **body: Any) -> requests.Response:
        target = self.installation_id if installation_id is None else installation_id
        return requests.post(
            f"{self.sim.url}/app/installations/{target}/access_tokens", headers=self.jwt_headers(), json=body or None
        )

    def token_headers(self, installation_id: int | None = None, **body: Any) -> dict[str, str]:
        response = self.mint(installation_id, **body)
        assert response.status_code == 201, response.text
        return {"Authorization": f"token {response.json()['token']}", "Accept": "application/vnd.github+json"}

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("headers", self.headers)
        kwargs.setdefault("timeout", 10)
        return requests.request(method, f"{self.sim.url}{path}", **kwargs)

    def open_pull(self, branch: str = "feature", **body: Any) -> dict[str, Any]:
        self.sim.push_commit(self.repo, branch, message=f"work on {branch}")
        payload = {"title": f"Work on {branch}", "head": branch, "base": "main", "body": "Body", **body}
        response = self.api("POST", f"/repos/{self.repo}/pulls", json=payload)
        assert response.status_code == 201, response.text
        return response.json()
