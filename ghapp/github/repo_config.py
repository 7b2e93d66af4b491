"""Per-repository configuration in ``.github/ghapp.yml``, read through the contents API.

Probot's convention, as Kodiak, Mergify and bors keep theirs: the file on the default branch governs
that repository, and what it leaves out keeps ghapp's environment defaults. It is read with a
conditional request (GitHub docs, "Get repository content"; a 304 costs no rate limit) and cached
until a push to the default branch touches it. A file that is not valid YAML or breaks the schema
(``docs/ghapp-config.schema.json``) leaves the repository on the defaults; the errors go to the pod.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.errors import NotFound
from ghapp.github.tokens import Access

PATH = ".github/ghapp.yml"
SCHEMA_FILE = Path(__file__).with_name("repo_config.schema.json")


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


def fetch(client: GitHubClient, repo: str, ref: str | None = None) -> RepoConfig:
    """Read and parse the file (on the default branch unless ``ref`` is given; conditionally); no file
    means no settings of its own."""
    owner, name = split_repo(repo)
    try:
        response = client.request(
            repo,
            Access.CONTENTS_READ,
            "GET",
            f"/repos/{owner}/{name}/contents/{PATH}",
            params={"ref": ref} if ref else None,
            conditional=True,
        )
    except NotFound:
        return RepoConfig()
    data = response.data if isinstance(response.data, dict) else {}
    if data.get("type") != "file":
        return RepoConfig(errors=(f"{PATH} must be a file",))
    text = base64.b64decode(str(data.get("content") or "")).decode("utf-8", "replace")
    return parse(text, sha=str(data.get("sha") or ""))


def touches_config(push: dict[str, Any]) -> bool:
    """Whether a ``push`` delivery's commits add, change or remove the file."""
    for commit in push.get("commits") or []:
        for kind in ("added", "modified", "removed"):
            if PATH in (commit.get(kind) or []):
                return True
    return False
