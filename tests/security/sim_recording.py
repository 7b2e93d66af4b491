"""Watching the GitHub simulator from the outside: what each installation-token request asked for."""

from __future__ import annotations

import threading
from typing import Any

from flask import request

from ghapp.testing import GitHubSimulator


class MintRecorder:
    """Records the JSON body of every ``POST /app/installations/<id>/access_tokens`` the simulator receives.

    Installed as a ``before_request`` hook, so it sees requests from every process (web, workers, tests).
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def install(self, sim: GitHubSimulator) -> MintRecorder:
        @sim.app.before_request
        def _record() -> None:
            if request.method == "POST" and request.path.endswith("/access_tokens"):
                body = request.get_json(silent=True)
                with self._lock:
                    self.bodies.append(body if isinstance(body, dict) else {"unparsed": request.get_data()})

        return self

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.bodies)


def minted_tokens(sim: GitHubSimulator) -> list[str]:
    """Every installation token the simulator has issued and not revoked (``ghs_...``)."""
    with sim.world.lock:
        return list(sim.world.tokens)
