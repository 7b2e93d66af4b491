"""Write ``payload_shapes.json``: the webhook events and actions GitHub documents, and the shape of the
fields ghapp's handlers read, taken from GitHub's published webhook schemas.

The source is the npm package ``@octokit/openapi-webhooks`` (the simulator's contract subset is built from
the same release). The whole description is megabytes; the worker needs only, per event it handles, the
properties its handlers read, with their documented types and whether GitHub always sends them. Enums are
left out on purpose: GitHub adds values (a new ``mergeable_state``) without notice, and an unknown value is
not a malformed payload. Events and actions are the union over github.com, Enterprise Cloud and every
Enterprise Server release in the package, since ``GHE_HOST`` points ghapp at one of those.

Run it with ``python -m ghapp.github.payload_shapes_generate`` (it fetches the package with ``npm pack``),
or point it at an unpacked ``generated/`` folder with ``--generated DIR``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@octokit/openapi-webhooks@12.1.0"
OUTPUT = Path(__file__).with_name("payload_shapes.json")
SHAPE_SOURCE = "api.github.com.json"

# What each handler reads (``a.b`` a nested property, ``a[].b`` a property of each item of array ``a``),
# per event and the actions ghapp routes; ``action`` and ``installation.id`` are read by the job itself.
# A trailing ``!`` marks what a handler cannot do without (it and its parents are required); the rest is
# read when present and only its type is checked. GitHub's schemas mark more as required than its
# deliveries always carry (the published issue_comment example has no ``comment.performed_via_github_app``),
# so a field is required only when ghapp needs it *and* GitHub documents it as always sent.
COMMON = ["action", "installation.id"]
PULL = [
    "pull_request.number!", "pull_request.head.ref!", "pull_request.head.sha!", "repository.full_name!",
    "pull_request.node_id", "pull_request.html_url", "pull_request.state", "pull_request.merged",
    "pull_request.merged_at", "pull_request.draft", "pull_request.base.ref", "pull_request.title",
    "pull_request.body", "pull_request.mergeable", "pull_request.mergeable_state", "pull_request.updated_at",
]
CHECK_SUITE = [
    "check_suite.head_sha!", "check_suite.head_branch", "check_suite.app.slug", "check_suite.id",
    "check_suite.status", "check_suite.conclusion", "check_suite.updated_at", "repository.full_name!",
]
CHECK_RUN = [
    "check_run.head_sha!", "check_run.name", "check_run.id", "check_run.status", "check_run.conclusion",
    "check_run.completed_at", "check_run.started_at", "check_run.check_suite.head_branch", "repository.full_name!",
]
INSTALLATION = ["installation.id!", "installation.account.login", "repositories[].full_name"]
READS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "pull_request": (
        ("opened", "edited", "closed", "reopened", "synchronize", "ready_for_review", "converted_to_draft",
         "review_requested", "review_request_removed", "labeled", "unlabeled"),
        PULL,
    ),
    "pull_request_review": (
        ("submitted", "edited", "dismissed"),
        ["pull_request.number!", "pull_request.head.ref!", "repository.full_name!", "review.id!", "review.user.login",
         "review.state", "review.commit_id", "review.body"],
    ),
    "issue_comment": (
        ("created", "edited", "deleted"),
        ["issue.number!", "issue.pull_request", "repository.full_name!", "comment.id!", "comment.user.login",
         "comment.body", "comment.performed_via_github_app.id"],
    ),
    "pull_request_review_comment": (
        ("created", "edited", "deleted"),
        ["pull_request.number!", "pull_request.head.ref!", "repository.full_name!", "comment.id!", "comment.body",
         "comment.path", "comment.line", "comment.side", "comment.start_line", "comment.diff_hunk",
         "comment.commit_id", "comment.in_reply_to_id", "comment.user.login", "comment.author_association",
         "comment.pull_request_review_id", "comment.updated_at", "sender.login"],
    ),
    "pull_request_review_thread": (
        ("resolved", "unresolved"),
        ["pull_request.number!", "pull_request.head.ref!", "repository.full_name!", "thread.node_id!",
         "thread.comments[].id", "thread.comments[].path", "thread.comments[].body"],
    ),
    "repository": (
        ("renamed", "transferred"),
        # ``changes`` differs by action (a name or an owner) and is read when present.
        ["repository.full_name!", "repository.id!", "repository.name!", "repository.owner.login!"],
    ),
    "check_suite": (("completed", "requested", "rerequested"), CHECK_SUITE),
    "check_run": (("created", "completed", "rerequested"), CHECK_RUN),
    "status": ((), ["sha!", "repository.full_name!", "branches[].name", "context", "state!"]),
    "installation": (("created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"), INSTALLATION),
    "installation_repositories": (
        ("added", "removed"),
        ["installation.id!", "installation.account.login", "repositories_added[].full_name",
         "repositories_removed[].full_name"],
    ),
}


def _npm_unpack(package: str, workdir: Path) -> Path:
    done = subprocess.run(["npm", "pack", "--silent", package], cwd=workdir, check=True, stdout=subprocess.PIPE)
    archive = workdir / done.stdout.decode().strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package" / "generated"


class Document:
    """One generated description, with ``$ref`` resolution."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.data
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def payloads(self) -> list[tuple[str, dict[str, Any]]]:
        """``(event name, payload schema)`` for every webhook, as GitHub names the event in ``X-GitHub-Event``."""
        found = []
        for hook in self.data["webhooks"].values():
            post = hook["post"]
            # The event's docs anchor is its X-GitHub-Event name (a few newer ones spell it with hyphens).
            event = post["externalDocs"]["url"].rsplit("#", 1)[1].replace("-", "_")
            found.append((event, self.resolve(post["requestBody"]["content"]["application/json"]["schema"])))
        return found

    def actions(self, schema: dict[str, Any]) -> set[str]:
        """The ``action`` values a payload schema allows (none for events without actions)."""
        schema = self.resolve(schema)
        values: set[str] = set()
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(key, ()):
                values |= self.actions(branch)
        action = (schema.get("properties") or {}).get("action")
        if action is not None:
            action = self.resolve(action)
            values |= set(action.get("enum") or ([action["const"]] if "const" in action else []))
        return values


def _tree(paths: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.rstrip("!").replace("[]", ".[]").split("."):
            node = node.setdefault(part, {})
    return tree


def _needed(paths: list[str]) -> set[str]:
    """Every path marked ``!``, and each of its parents."""
    needed = set()
    for path in paths:
        if path.endswith("!"):
            parts = path.rstrip("!").split(".")
            needed.update(".".join(parts[: n + 1]) for n in range(len(parts)))
    return needed


def reduce(
    doc: Document, schema: dict[str, Any], tree: dict[str, Any], needed: set[str], seen: set[str], at: str = ""
) -> dict[str, Any]:
    """``schema`` cut down to the properties in ``tree``: their types, and which of the ``needed`` ones
    GitHub always sends. ``seen`` collects what GitHub documents, ``name!`` for what it requires."""
    schema = doc.resolve(schema)
    for key, combined in (("anyOf", "anyOf"), ("oneOf", "anyOf"), ("allOf", "allOf")):
        if key in schema:
            # oneOf becomes anyOf: two cut-down branches may both match what only one of the full ones does.
            return {combined: [reduce(doc, branch, tree, needed, seen, at) for branch in schema[key]]}
    out = {"type": schema["type"]} if "type" in schema else {}
    if not tree:
        return out
    if "[]" in tree:
        here = at.rstrip(".") + "[]"
        seen.add(here)
        if "items" in schema:
            out["items"] = reduce(doc, schema["items"], tree["[]"], needed, seen, here + ".")
        return out
    properties = schema.get("properties") or {}
    kept = {name: reduce(doc, properties[name], sub, needed, seen, f"{at}{name}.") for name, sub in tree.items()
            if name in properties}
    seen.update(f"{at}{name}" for name in kept)
    if kept:
        out["properties"] = kept
    documented = set(schema.get("required") or ())
    seen.update(f"{at}{name}!" for name in tree if name in documented)
    required = [name for name in tree if name in documented and f"{at}{name}" in needed]
    if required:
        out["required"] = required
    return out


def _leaves(tree: dict[str, Any], at: str = "") -> set[str]:
    names = set()
    for name, sub in tree.items():
        here = f"{at}{name}" if name != "[]" else f"{at.rstrip('.')}[]"
        names.add(here)
        names |= _leaves(sub, here + ".")
    return names


def build(generated: Path) -> dict[str, Any]:
    events: dict[str, set[str]] = {}
    for source in sorted(generated.glob("*.json")):
        doc = Document(json.loads(source.read_text()))
        for event, schema in doc.payloads():
            events.setdefault(event, set()).update(doc.actions(schema))
    shapes_doc = Document(json.loads((generated / SHAPE_SOURCE).read_text()))
    shapes: dict[str, Any] = {}
    for event, schema in shapes_doc.payloads():
        if event not in READS:
            continue
        handled, paths = READS[event]
        tree = _tree(COMMON + paths)
        for action in sorted(shapes_doc.actions(schema) or {""}):
            if handled and action not in handled:
                continue
            seen: set[str] = set()
            needed = _needed(paths)
            shapes[f"{event}.{action}" if action else event] = reduce(shapes_doc, schema, tree, needed, seen)
            undocumented = _leaves(_tree(paths)) - seen
            if undocumented:
                raise SystemExit(f"{event}.{action}: ghapp reads {sorted(undocumented)}, undocumented by GitHub")
            optional = {path for path in needed if path + "!" not in seen}
            if optional:
                raise SystemExit(f"{event}.{action}: ghapp needs {sorted(optional)}, which GitHub may leave out")
    missing = {f"{e}.{a}" if a else e for e, (acts, _) in READS.items() for a in acts or ("",)} - set(shapes)
    if missing:
        raise SystemExit(f"no documented payload for {sorted(missing)}")
    grouped: dict[str, list[str]] = {}
    for name, shape in sorted(shapes.items()):
        grouped.setdefault(json.dumps(shape, sort_keys=True), []).append(name)
    return {
        "source": f"{PACKAGE} generated/*.json (events and actions), generated/{SHAPE_SOURCE} (shapes)",
        "events": {event: sorted(actions) for event, actions in sorted(events.items())},
        "shapes": [{"payloads": names, "schema": json.loads(shape)} for shape, names in grouped.items()],
    }


def dumps(result: dict[str, Any]) -> str:
    """One line per event and per shape: small, and a regenerated file diffs line by line."""
    compact = {"separators": (",", ":")}
    events = ",\n  ".join(f"{json.dumps(e)}:{json.dumps(a, **compact)}" for e, a in result["events"].items())
    shapes = ",\n  ".join(json.dumps(s, **compact) for s in result["shapes"])
    return f'{{"source":{json.dumps(result["source"])},\n"events":{{\n  {events}}},\n"shapes":[\n  {shapes}]}}\n'


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=Path, help="an unpacked package's generated/ folder")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        generated = args.generated or _npm_unpack(PACKAGE, Path(workdir))
        result = build(generated)
    args.output.write_text(dumps(result))
    print(f"wrote {args.output} ({len(result['events'])} events, {len(result['shapes'])} shapes)")


if __name__ == "__main__":
    main()
