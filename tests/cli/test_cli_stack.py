"""``ghapp demo`` and ``ghapp redeliver`` as real processes against ghapp (web over HTTP, real worker
processes, real Redis and SQLite) wired to the GitHub simulator."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from cli_helpers import one_line, run_ghapp
from sqlalchemy import select

from ghapp.branches import head_branch
from ghapp.runtime import Runtime
from ghapp.store.migrate import upgrade
from ghapp.store.schema import inbox
from ghapp.sync.redelivery import IN_FLIGHT_S
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack, ServerThread, wait_until
from ghapp.web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(SimulatorConfig(seed=3)) as simulator:
        yield simulator


def test_demo_plays_the_task_to_its_end(sim, redis_url, sqlite_url, tmp_path, base_env):
    with GhappStack(sim, redis_url, sqlite_url, workers=1, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.1}) as stack:
        env = {**base_env, **stack.worker_env()}
        result = run_ghapp(["demo", "--url", stack.web.url, "--sim-url", sim.url, "--timeout", "60"], env)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        for expected in (
            "\u2713 draft PR acme/api#1 opened",
            "\u2713 draft PR acme/web#1 opened",
            "\u2713 CI green on acme/api#1",
            "\u2713 CI green on acme/web#1",
            "\u2713 review approved by alice",
            "\u2713 pod approved ws-api",
            "\u2713 merged acme/api#1",
            "\u2713 merged acme/web#1 (after its dependency)",
        ):
            assert expected in out.splitlines(), (expected, out)
        lines = out.splitlines()
        assert lines.index("\u2713 merged acme/api#1") < lines.index("\u2713 merged acme/web#1 (after its dependency)")
        task_id = re.search(r"^demo finished: task (\S+) ", out, re.MULTILINE).group(1)

        task = stack.pod.task(task_id)
        assert task["phase"] == "completed"
        statuses = {w["workstream_id"]: w["status"] for w in task["workstreams"]}
        assert statuses == {"ws-api": "merged", "ws-web": "merged"}
        api = next(p for p in sim.pulls("acme/api") if p["head"]["ref"] == head_branch(task_id, "ws-api"))
        web = next(p for p in sim.pulls("acme/web") if p["head"]["ref"] == head_branch(task_id, "ws-web"))
        assert api["merged"] and web["merged"] and web["merged_at"] >= api["merged_at"]
        assert len(sim.pulls("acme/api")) == 1 and len(sim.pulls("acme/web")) == 1, "no duplicate PR"
        # The repositories' ruleset held both merges until ci/test passed on the merged head.
        for repo, pull in (("acme/api", api), ("acme/web", web)):
            record = next(m for m in sim.merges() if m["repo"] == repo and m["number"] == pull["number"])
            assert record["required"] == {"ci/test": "passed"}
        assert sim.review_decision("acme/api", api["number"]) == "APPROVED"

        # Against something that is not the simulator, the demo fails with one line and a non-zero status.
        result = run_ghapp(["demo", "--url", stack.web.url, "--sim-url", stack.web.url, "--timeout", "5"], env)
        assert result.returncode == 1
        assert one_line(result.stderr) == (
            f"ghapp: demo failed: {stack.web.url} is not the GitHub simulator (GET /_sim/info answered 404)"
        )


def test_redeliver_brings_back_a_delivery_that_failed_while_ghapp_was_down(
    sim, redis_url, sqlite_url, tmp_path, base_env
):
    with GhappStack(sim, redis_url, sqlite_url, workers=0, log_dir=tmp_path) as stack:
        sim.install("acme", ["api"])
        assert sim.wait_deliveries_idle(10)
        port = stack.web.server.server_port
        stack.web.stop()
        before = {d.id for d in sim.deliveries}
        sim.push_commit("acme/api", "feature", message="pushed while ghapp was down")
        assert sim.wait_deliveries_idle(20)
        failed = [d for d in sim.deliveries if d.id not in before]
        assert len(failed) == 1 and not failed[0].delivered
        guid = failed[0].guid
        time.sleep(IN_FLIGHT_S + 1)  # GitHub waits 10 s for an answer: younger failures may still be in flight
        stack.web = ServerThread(create_app(runtime=Runtime(stack.settings)), port=port).start()

        env = {**base_env, **stack.worker_env()}
        result = run_ghapp(["redeliver", "--since", "1h"], env)
        assert result.returncode == 0, result.stdout + result.stderr
        redelivered = [line for line in result.stdout.splitlines() if line.startswith("redelivered ")]
        assert len(redelivered) == 1 and guid in redelivered[0] and " push " in redelivered[0], result.stdout
        assert result.stdout.splitlines()[-1] == "1 deliveries redelivered"
        assert "\u2026 read " in result.stderr, "progress goes to stderr"

        runtime = Runtime(stack.settings)

        def stored() -> bool:
            with runtime.engine.connect() as conn:
                return conn.execute(select(inbox.c.guid).where(inbox.c.guid == guid)).first() is not None

        wait_until(stored, 20, message="the redelivered delivery stored in the inbox")
        assert [d.guid for d in sim.deliveries if d.redelivery] == [guid]

        # Now ghapp has it: asking again redelivers nothing.
        runtime.redis.delete(*runtime.redis.keys("ghapp:redelivery:asked:*"))
        again = run_ghapp(["redeliver", "--since", "1h"], env)
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines() == ["0 deliveries redelivered"]


def test_demo_plays_a_stack_merged_bottom_up(sim, redis_url, sqlite_url, tmp_path, base_env):
    with GhappStack(sim, redis_url, sqlite_url, workers=1, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.1}) as stack:
        env = {**base_env, **stack.worker_env()}
        result = run_ghapp(["demo", "--stack", "--url", stack.web.url, "--sim-url", sim.url, "--timeout", "60"], env)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        task_id = re.search(r"^demo finished: task (\S+) ", result.stdout, re.MULTILINE).group(1)
        assert f"\u2713 acme/shop#2 (ws-api) targets {head_branch(task_id, 'ws-schema')}" in lines
        merged = [line for line in lines if "squash-merged into" in line]
        assert merged == [f"\u2713 acme/shop#{n} squash-merged into main" for n in (1, 2, 3)]
        pulls = sim.pulls("acme/shop")
        assert [p["merged"] for p in pulls] == [True, True, True]
        assert [m["number"] for m in sim.merges() if m["repo"] == "acme/shop"] == [1, 2, 3]
        assert {m["method"] for m in sim.merges()} == {"squash"}
        for name in ("schema", "api", "page"):
            assert sim.read_file("acme/shop", "main", f"{name}.py") == f"# ws-{name}\n"
