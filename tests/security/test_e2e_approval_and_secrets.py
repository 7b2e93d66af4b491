"""End to end against the simulator: only writers approve, and no credential leaks anywhere.

The whole stack runs for real: the web app over HTTP, a worker process
started as the Procfile starts it, Redis, the database and the simulated
GitHub. With ``APPROVAL_POLICY=github`` a reader's APPROVED review and an
"LGTM, approved" comment (from anyone) must not merge the PR; a writer's
approving review must. Afterwards every place a credential could end up is
scanned for the app's private key, the installation tokens GitHub issued and
any JWT.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from quiet import queue_of, wait_quiet
from redis import Redis
from sqlalchemy import create_engine, select

from ghapp.branches import head_branch
from ghapp.store.schema import metadata
from ghapp.testing import GitHubSimulator
from ghapp.testing.stack import GhappStack, wait_until
from security.sim_recording import MintRecorder, minted_tokens

pytestmark = pytest.mark.slow

REPO = "acme/api"
TASK = "sec-task"
WS = "feature"
TIMEOUT = 60
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


@pytest.fixture
def sim() -> Iterator[tuple[GitHubSimulator, MintRecorder]]:
    simulator = GitHubSimulator()
    recorder = MintRecorder().install(simulator)
    simulator.start()
    try:
        simulator.install("acme", ["api"])
        simulator.add_collaborator(REPO, "reader", "read")
        simulator.add_collaborator(REPO, "writer", "write")
        yield simulator, recorder
    finally:
        simulator.stop()


@pytest.fixture
def stack(sim, redis_url, database_url, tmp_path) -> Iterator[GhappStack]:  # type: ignore[no-untyped-def]
    simulator, _ = sim
    with GhappStack(
        simulator,
        redis_url,
        database_url,
        workers=1,
        log_dir=tmp_path,
        settings_overrides={"approval_policy": "github", "write_spacing_s": 0.1},
    ) as running:
        yield running


def pull(sim: GitHubSimulator) -> dict[str, Any] | None:
    found = [p for p in sim.pulls(REPO) if p["head"]["ref"] == head_branch(TASK, WS)]
    assert len(found) <= 1
    return found[0] if found else None


def notices(stack: GhappStack, type_: str) -> list[dict[str, Any]]:
    return [n for n in stack.receiver.of_task(TASK) if n["type"] == type_]


def run_to_ready(sim: GitHubSimulator, stack: GhappStack) -> dict[str, Any]:
    """A workstream whose PR is open, green and ready for review; returns the PR."""
    assert stack.worker_env()["APPROVAL_POLICY"] == "github"
    pod = stack.pod
    assert pod.post_event(TASK, "task_created", {"title": "Security scenario"}).status_code == 201
    created = pod.post_event(
        TASK,
        "workstream_created",
        {"workstream_id": WS, "spec": "Add the feature", "repo": REPO, "branch": "main", "dependencies": []},
    )
    assert created.status_code == 201, created.text
    assert pod.post_event(TASK, "phase_changed", {"phase": "workstream_execution"}).status_code == 201
    wait_until(lambda: pull(sim), TIMEOUT, message="draft PR opened")
    sha = sim.push_commit(REPO, head_branch(TASK, WS), message="the work")
    sim.complete_checks(REPO, sha, conclusion="success")
    assert pod.post_event(TASK, "workstream_completed", {"workstream_id": WS}).status_code == 201
    wait_until(lambda: not pull(sim)["draft"], TIMEOUT, message="PR marked ready")
    wait_until(lambda: notices(stack, "checks_completed"), TIMEOUT, message="checks seen")
    return pull(sim)  # type: ignore[return-value]


def test_only_an_approving_review_by_a_writer_merges(sim, stack):
    simulator, _ = sim
    pr = run_to_ready(simulator, stack)

    simulator.submit_review(REPO, pr["number"], "reader", state="APPROVED", body="Looks good to me")
    simulator.comment(REPO, pr["number"], "reader", "LGTM, approved")
    simulator.comment(REPO, pr["number"], "writer", "LGTM, approved")
    wait_until(lambda: len(notices(stack, "pr_comment")) == 2, TIMEOUT, message="both comments seen")
    reviews = wait_until(lambda: notices(stack, "review_submitted"), TIMEOUT, message="reader's review seen")
    assert [(n["data"]["user"], n["data"]["user_can_write"]) for n in reviews] == [("reader", False)]
    wait_quiet(queue_of(stack.redis_url), simulator)  # every job those deliveries caused has run
    assert not simulator.get_pull(REPO, pr["number"])["merged"], "a reader's approval or a comment merged the PR"

    simulator.submit_review(REPO, pr["number"], "writer", state="APPROVED", body="Approved")
    wait_until(lambda: simulator.get_pull(REPO, pr["number"])["merged"], TIMEOUT, message="merged by writer's review")
    wait_until(lambda: notices(stack, "pr_merged"), TIMEOUT, message="merge reported")
    writers = [n["data"]["user"] for n in notices(stack, "review_submitted") if n["data"]["user_can_write"]]
    assert writers == ["writer"]


# --- credentials never leak ---------------------------------------------------------------------


def key_fragments(pem: str) -> list[str]:
    """Every 40-character slice of the key's base64 body (at a step of 8, which no 40-slice can hide from)."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return [body[i : i + 40] for i in range(0, len(body) - 40, 8)]


def haystacks(stack: GhappStack, log_dir: Path, redis_url: str, database_url: str, web_logs: str) -> dict[str, str]:
    """Every place a credential could end up, as text."""
    found: dict[str, str] = {}
    for path in sorted(log_dir.glob("worker-*.log")):
        found[f"log {path.name}"] = path.read_text(errors="replace")
    found["web process log"] = web_logs
    found["notices pushed to the pod"] = json.dumps(list(stack.receiver.notices.values()))
    found["task log over the pod API"] = json.dumps(stack.pod.events(TASK))
    found["task over the pod API"] = json.dumps(stack.pod.task(TASK))
    assert stack.web is not None
    for page in ("/", "/metrics", "/rq/"):
        response = requests.get(stack.web.url + page, timeout=30)
        assert response.status_code == 200, page
        found[f"page {page}"] = response.text
    engine = create_engine(database_url)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(select(table)).all()
            found[f"table {table.name}"] = "\n".join(
                repr(tuple(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else v for v in row))
                for row in rows
            )
    engine.dispose()
    redis = Redis.from_url(redis_url)
    values = []
    for key in redis.scan_iter(count=500):
        kind = redis.type(key)
        if kind == b"string":
            values.append(repr(redis.get(key)))
        elif kind == b"hash":
            values.append(repr(redis.hgetall(key)))
        elif kind == b"list":
            values.append(repr(redis.lrange(key, 0, -1)))
    redis.close()
    found["redis (jobs, failures, caches)"] = "\n".join(values)
    return found


def test_no_token_jwt_or_key_appears_in_logs_notices_errors_or_pages(
    sim, stack, redis_url, database_url, tmp_path, caplog
):
    simulator, mints = sim
    caplog.set_level(logging.DEBUG)
    pr = run_to_ready(simulator, stack)
    simulator.submit_review(REPO, pr["number"], "writer", state="APPROVED")
    wait_until(lambda: notices(stack, "pr_merged"), TIMEOUT, message="merged and reported")

    tokens = minted_tokens(simulator)
    assert tokens, "the scenario minted no installation token, so the scan would prove nothing"
    assert all(token.startswith("ghs_") for token in tokens)
    assert mints.snapshot(), "no token request was seen"
    for body in mints.snapshot():
        if "repositories" in body:
            assert len(body["repositories"]) == 1, body  # the workers asked for one repository only
        else:  # the sweep's comparison reads an installation's open PRs: read-only, and nothing more
            assert body.get("permissions") == {"pull_requests": "read"}, body

    secrets = {f"installation token {t[:8]}...": t for t in tokens}
    secrets.update({f"private key slice {i}": s for i, s in enumerate(key_fragments(simulator.private_key_pem))})
    secrets["webhook secret"] = simulator.webhook_secret
    secrets["pod secret"] = stack.pod_secret

    places = haystacks(stack, tmp_path, redis_url, database_url, caplog.text)
    assert any("minted an installation token" in text for text in places.values()), "token minting was not logged"
    leaks = []
    for place, text in places.items():
        flat = text.replace("\\n", "").replace("\n", "")
        leaks += [f"{name} in {place}" for name, secret in secrets.items() if secret in text or secret in flat]
        leaks += [f"a JWT in {place}" for _ in JWT.finditer(text)]
    assert leaks == []
