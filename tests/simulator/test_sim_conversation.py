"""The conversation's rules: threads, replies to replies, a review refused whole, hunks, redirects."""

from __future__ import annotations

from typing import Any

import pytest

from ghapp.testing.conversation import diff_hunk


@pytest.mark.parametrize(
    ("old", "new", "line", "side", "expected"),
    [
        ("a\nb\nc\n", "a\nB\nc\n", 2, "RIGHT", "@@ -1,3 +1,3 @@\n a\n-b\n+B"),
        ("a\nb\nc\n", "a\nB\nc\n", 2, "LEFT", "@@ -1,3 +1,3 @@\n a\n-b"),
        ("a\nb\nc\n", "a\nB\nc\n", 1, "RIGHT", "@@ -1,3 +1,3 @@\n a"),
        ("", "x\ny\n", 2, "RIGHT", "@@ -1,0 +1,2 @@\n+x\n+y"),
        ("a\nb\nc\n", "a\nB\nc\n", 9, "RIGHT", None),
        ("\n".join(map(str, range(20))), "\n".join(map(str, range(20))), 5, "RIGHT", None),
    ],
)
def test_the_hunk_ends_at_the_commented_line(old: str, new: str, line: int, side: str, expected: str | None) -> None:
    assert diff_hunk(old, new, line, side, "f.txt") == expected


def _pull(setup: Any) -> tuple[str, int]:
    setup.sim.push_commit(setup.repo, "feature", files={"app.py": "one\ntwo\nthree\n"})
    body = {"title": "Work", "head": "feature", "base": "main"}
    return setup.repo, setup.api("POST", f"/repos/{setup.repo}/pulls", json=body).json()["number"]


def test_a_reply_to_a_reply_joins_the_threads_first_comment(setup: Any) -> None:
    sim = setup.sim
    repo, number = _pull(setup)
    top = sim.review_comment(repo, number, "alice", "first", path="app.py", line=1)
    reply = sim.review_comment(repo, number, "alice", "second", in_reply_to=top["id"])
    answer = setup.api("POST", f"/repos/{repo}/pulls/{number}/comments/{reply['id']}/replies", json={"body": "third"})
    assert answer.status_code == 201
    assert answer.json()["in_reply_to_id"] == top["id"]
    (thread,) = sim.review_threads(repo, number)
    assert thread["comments"] == [top["id"], reply["id"], answer.json()["id"]]


def test_a_review_with_a_bad_inline_comment_stores_nothing(setup: Any) -> None:
    sim = setup.sim
    repo, number = _pull(setup)
    before = len(sim.deliveries)
    answer = setup.api(
        "POST",
        f"/repos/{repo}/pulls/{number}/reviews",
        json={"event": "COMMENT", "comments": [{"path": "app.py", "line": 2, "body": "ok"}, {"path": "app.py"}]},
    )
    assert answer.status_code == 422
    assert setup.api("GET", f"/repos/{repo}/pulls/{number}/reviews").json() == []
    assert setup.api("GET", f"/repos/{repo}/pulls/{number}/comments").json() == []
    sim.wait_deliveries_idle()
    assert [d.event for d in sim.deliveries[before:]] == []


def test_comments_of_an_unknown_review_are_not_found(setup: Any) -> None:
    repo, number = _pull(setup)
    assert setup.api("GET", f"/repos/{repo}/pulls/{number}/reviews/999999/comments").status_code == 404


def test_a_bad_reaction_is_refused(setup: Any) -> None:
    repo, number = _pull(setup)
    said = setup.sim.comment(repo, number, "alice", "hello")
    answer = setup.api("POST", f"/repos/{repo}/issues/comments/{said['id']}/reactions", json={"content": "wave"})
    assert answer.status_code == 422
    assert setup.sim.reactions(repo, said["id"]) == []


def test_a_write_to_an_old_name_is_redirected_and_lands_once_followed(setup: Any) -> None:
    sim = setup.sim
    repo, number = _pull(setup)
    sim.rename_repo(repo, "renamed")
    moved = setup.api("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": "hi"}, allow_redirects=False)
    assert moved.status_code == 301
    assert sim.comments("acme/renamed", number) == []
    again = setup.api("POST", moved.headers["Location"].removeprefix(sim.url), json={"body": "hi"})
    assert again.status_code == 201
    assert [c["body"] for c in sim.comments("acme/renamed", number)] == ["hi"]
    assert setup.api("GET", "/repos/acme/nothing-here").status_code == 404
