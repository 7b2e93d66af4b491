"""Fixtures of the simulator's own tests: a running simulator, app credentials, and a webhook receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sim_helpers import FakeClock, Received, Receiver, Setup

from ghapp.testing import GitHubSimulator, SimulatorConfig


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state.delay_s:
                time.sleep(state.delay_s)
            with state.lock:
                state.received.append(Received(dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., GitHubSimulator]]:
    started: list[GitHubSimulator] = []

    def build(**config: Any) -> GitHubSimulator:
        sim = GitHubSimulator(SimulatorConfig(seed=7, **config)).start()
        started.append(sim)
        return sim

    yield build
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., GitHubSimulator], clock: FakeClock) -> GitHubSimulator:
    return make_sim(clock=clock)


@pytest.fixture
def setup(sim: GitHubSimulator) -> Setup:
    installation_id = sim.install("acme", ["app", "other"])
    sim.add_collaborator("acme/app", "alice", "write")
    sim.add_collaborator("acme/app", "bob", "read")
    made = Setup(sim, installation_id, {})
    made.headers = made.token_headers()
    return made
