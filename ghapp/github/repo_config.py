"""Per-repository configuration in ``.github/ghapp.yml``, read through GraphQL.

Probot's convention, as Kodiak, Mergify and bors keep theirs: the file on the default branch governs
that repository, and what it leaves out keeps ghapp's environment defaults. It is read in one GraphQL
query (``Repository.defaultBranchRef``, ``Commit.file``; 1 point) that may also carry the head commit and
tree of a branch the caller is about to build on (``Repository.ref``): a workstream's first sync needs
both, the policy and the base its draft starts from, and so pays one unit for the two. A REST
conditional read would save nothing here: ETags are bound to the token, and the cache outlives a token.
A file that is not valid YAML or breaks the schema (``docs/ghapp-config.schema.json``) leaves the
repository on the defaults; the errors go to the pod.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.models import Branch
from ghapp.github.tokens import Access

PATH = ".github/ghapp.yml"
SCHEMA_FILE = Path(__file__).with_name("repo_config.schema.json")

CONFIG_AND_BRANCH = """
query ConfigAndBranch($owner: String!, $name: String!, $path: String!, $branch: String!, $withBranch: Boolean!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef { target { ... on Commit { file(path: $path) { oid object { ... on Blob { text } } } } } }
    ref(qualifiedName: $branch) @include(if: $withBranch) {
      name
      target { ... on Commit { oid tree { oid } } }
    }
  }
}
"""


@dataclass(frozen=True)
class RepoConfig:
    """What the file says (only the keys it sets), its blob sha, and why it was refused if it was."""

    values: dict[str, Any] = field(default_factory=dict)
    sha: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def parse(text: str, sha: str | None = None) -> RepoConfig:
    """The file's settings, or the reasons it is refused (each a sentence naming the key)."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        return RepoConfig(sha=sha, errors=(f"{PATH} is not valid YAML: {exc}".replace("\n", " "),))
    if data is None:
        data = {}
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        return RepoConfig(sha=sha, errors=tuple(_sentence(e) for e in errors))
    return RepoConfig(values=dict(data), sha=sha)


def _sentence(error: Any) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "the file"
    return f"{PATH}: {where}: {error.message}"


def fetch(client: GitHubClient, repo: str, branch: str | None = None) -> tuple[RepoConfig, Branch | None]:
    """The file on the default branch, parsed (no file means no settings of its own), and, when
    ``branch`` is named, that branch's head (None when it does not exist)."""
    owner, name = split_repo(repo)
    variables = {"owner": owner, "name": name, "path": PATH, "branch": f"refs/heads/{branch or ''}",
                 "withBranch": branch is not None}  # fmt: skip
    data = client.graphql(repo, Access.CONTENTS_READ, CONFIG_AND_BRANCH, variables) or {}
    found = data.get("repository") or {}
    return _config(found.get("defaultBranchRef")), _branch(found.get("ref"))


def _config(default_branch: dict[str, Any] | None) -> RepoConfig:
    entry = ((default_branch or {}).get("target") or {}).get("file")
    if entry is None:
        return RepoConfig()  # an empty repository, or no file
    text = (entry.get("object") or {}).get("text")
    if text is None:
        return RepoConfig(sha=entry.get("oid"), errors=(f"{PATH} must be a text file",))
    return parse(text, sha=entry.get("oid"))


def _branch(ref: dict[str, Any] | None) -> Branch | None:
    target = (ref or {}).get("target") or {}
    if not target.get("oid"):
        return None
    return Branch(name=str(ref["name"]), sha=str(target["oid"]), tree_sha=str(target["tree"]["oid"]))  # type: ignore[index]


def touches_config(push: dict[str, Any]) -> bool:
    """Whether a ``push`` delivery's commits add, change or remove the file."""
    for commit in push.get("commits") or []:
        for kind in ("added", "modified", "removed"):
            if PATH in (commit.get(kind) or []):
                return True
    return False
