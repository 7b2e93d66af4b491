"""``.github/ghapp.yml``: parsing, the schema's refusals, and how it lays over the environment's policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ghapp.github.repo_config import PATH, SCHEMA_FILE, parse, touches_config
from ghapp.sync.model import Policy
from ghapp.sync.repo_policy import apply

ROOT = Path(__file__).parents[2]


def test_the_published_schema_is_the_one_ghapp_validates_with():
    assert json.loads((ROOT / "docs" / "ghapp-config.schema.json").read_text()) == json.loads(SCHEMA_FILE.read_text())


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("", {}),
        ("# nothing set\n", {}),
        ("merge_method: rebase\n", {"merge_method": "rebase"}),
        (
            "approval: github\nreviewers:\n  users: [alice]\n  teams: [core]\nhold_labels: [wip]\n"
            "update_branch: notify\ndelete_branch_on_merge: true\nchecks_settle_seconds: 30\n",
            {
                "approval": "github",
                "reviewers": {"users": ["alice"], "teams": ["core"]},
                "hold_labels": ["wip"],
                "update_branch": "notify",
                "delete_branch_on_merge": True,
                "checks_settle_seconds": 30,
            },
        ),
    ],
)
def test_a_valid_file_gives_its_settings(text, values):
    config = parse(text, sha="abc")
    assert config.valid and config.values == values and config.sha == "abc"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("merge_method: fast-forward\n", "merge_method"),
        ("merge_methd: squash\n", "merge_methd"),
        ("reviewers: [alice]\n", "reviewers"),
        ("checks_settle_seconds: 0\n", "checks_settle_seconds"),
        ("hold_labels: wip\n", "hold_labels"),
        ("- a list\n", "the file"),
        ("merge_method: [unclosed\n", "not valid YAML"),
    ],
)
def test_an_invalid_file_is_refused_with_sentences_naming_the_key(text, names):
    config = parse(text)
    assert not config.valid and config.values == {}
    assert any(names in error for error in config.errors), config.errors
    assert all(error.startswith(PATH) for error in config.errors)


def test_the_file_lays_over_the_environment_and_an_invalid_one_changes_nothing():
    base = Policy(merge_method="squash", reviewers=("env-reviewer",))
    mine = apply(base, parse("merge_method: rebase\nreviewers:\n  users: [alice]\n"))
    assert (mine.merge_method, mine.reviewers) == ("rebase", ("alice",))
    assert mine.approval == base.approval
    assert apply(base, parse("merge_method: nope\n")) == base
    assert apply(base, parse("")) == base


@pytest.mark.parametrize(
    ("commits", "touched"),
    [
        ([{"added": [], "modified": [".github/ghapp.yml"], "removed": []}], True),
        ([{"added": ["a.py"], "modified": [], "removed": []}, {"removed": [".github/ghapp.yml"]}], True),
        ([{"added": ["a.py"], "modified": [".github/ghapp.yaml"], "removed": []}], False),
        ([], False),
    ],
)
def test_a_push_touches_the_file_only_when_a_commit_changes_it(commits, touched):
    assert touches_config({"commits": commits}) is touched
