"""Build the trimmed subset of GitHub's published OpenAPI descriptions that the simulator is checked against.

GitHub publishes its REST description in the npm package ``@octokit/openapi`` and its webhook payload
schemas in ``@octokit/openapi-webhooks``. Both are tens of megabytes; the contract tests need only the
responses and payloads the simulator produces, so this script keeps those and every component they
reference, turns OpenAPI 3.0's ``nullable`` into plain JSON Schema, and writes ``github-subset.json.gz``.

Run it with ``python -m ghapp.testing.schemas.generate`` (it fetches the packages with ``npm pack``), or
point it at already unpacked copies with ``--rest FILE --webhooks FILE``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REST_PACKAGE = "@octokit/openapi@23.0.2"
WEBHOOKS_PACKAGE = "@octokit/openapi-webhooks@12.1.0"
OUTPUT = Path(__file__).with_name("github-subset.json.gz")

# (method, path template, status) of every REST response the simulator's contract test checks.
REST_RESPONSES: list[tuple[str, str, str]] = [
    ("get", "/app", "200"),
    ("get", "/app/installations", "200"),
    ("get", "/app/installations/{installation_id}", "200"),
    ("post", "/app/installations/{installation_id}/access_tokens", "201"),
    ("get", "/installation/repositories", "200"),
    ("get", "/repos/{owner}/{repo}/installation", "200"),
    ("get", "/app/hook/deliveries", "200"),
    ("get", "/app/hook/deliveries/{delivery_id}", "200"),
    ("post", "/app-manifests/{code}/conversions", "201"),
    ("get", "/repos/{owner}/{repo}", "200"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}", "200"),
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}", "200"),
    ("post", "/repos/{owner}/{repo}/git/refs", "201"),
    ("patch", "/repos/{owner}/{repo}/git/refs/{ref}", "200"),
    ("get", "/repos/{owner}/{repo}/git/commits/{commit_sha}", "200"),
    ("post", "/repos/{owner}/{repo}/git/commits", "201"),
    ("get", "/repos/{owner}/{repo}/git/trees/{tree_sha}", "200"),
    ("post", "/repos/{owner}/{repo}/git/trees", "201"),
    ("get", "/repos/{owner}/{repo}/pulls", "200"),
    ("post", "/repos/{owner}/{repo}/pulls", "201"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}", "200"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}", "200"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", "200"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", "405"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", "409"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "200"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "200"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "201"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "200"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "201"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "200"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-suites", "200"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs", "200"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/status", "200"),
    ("post", "/repos/{owner}/{repo}/pulls", "422"),
    ("get", "/repos/{owner}/{repo}/contents/{path}", "200"),
    ("get", "/repos/{owner}/{repo}/rules/branches/{branch}", "200"),
    ("get", "/repos/{owner}/{repo}/rulesets", "200"),
    ("get", "/repos/{owner}/{repo}/rulesets/{ruleset_id}", "200"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}/protection", "200"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch", "202"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch", "422"),
    ("post", "/repos/{owner}/{repo}/check-runs", "201"),
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}", "200"),
    ("get", "/repos/{owner}/{repo}/check-runs/{check_run_id}", "200"),
    # the conversation: review comments, replies, reactions, edits, labels, teams, moved repositories
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/comments", "200"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/comments", "201"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/comments", "422"),
    ("get", "/repos/{owner}/{repo}/pulls/comments/{comment_id}", "200"),
    ("patch", "/repos/{owner}/{repo}/pulls/comments/{comment_id}", "200"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies", "201"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments", "200"),
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "201"),
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "200"),
    ("post", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", "201"),
    ("get", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "200"),
    ("get", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", "200"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "200"),
    ("delete", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "200"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "200"),
    ("get", "/repos/{owner}/{repo}", "301"),
]

WEBHOOKS: list[str] = [
    "pull-request-opened",
    "pull-request-closed",
    "pull-request-reopened",
    "pull-request-edited",
    "pull-request-synchronize",
    "pull-request-ready-for-review",
    "pull-request-converted-to-draft",
    "pull-request-review-requested",
    "pull-request-review-submitted",
    "pull-request-review-dismissed",
    "pull-request-review-edited",
    "issue-comment-created",
    "issue-comment-edited",
    "issue-comment-deleted",
    "pull-request-review-comment-created",
    "pull-request-review-comment-edited",
    "pull-request-review-comment-deleted",
    "pull-request-review-thread-resolved",
    "pull-request-review-thread-unresolved",
    "pull-request-labeled",
    "pull-request-unlabeled",
    "repository-renamed",
    "repository-transferred",
    "check-suite-completed",
    "check-suite-requested",
    "check-run-completed",
    "check-run-created",
    "repository-ruleset-created",
    "repository-ruleset-edited",
    "repository-ruleset-deleted",
    "branch-protection-rule-created",
    "branch-protection-rule-edited",
    "branch-protection-rule-deleted",
    "status",
    "push",
    "installation-created",
    "installation-deleted",
    "installation-suspend",
    "installation-unsuspend",
    "installation-repositories-added",
    "installation-repositories-removed",
    "merge-group-checks-requested",
    "merge-group-destroyed",
    "pull-request-enqueued",
    "pull-request-dequeued",
    "pull-request-auto-merge-enabled",
    "pull-request-auto-merge-disabled",
]


def operation_key(method: str, path: str, status: str) -> str:
    """The name a response schema is stored under, e.g. ``GET /app 200``."""
    return f"{method.upper()} {path} {status}"


def _npm_unpack(package: str, workdir: Path, member: str) -> Path:
    done = subprocess.run(["npm", "pack", "--silent", package], cwd=workdir, check=True, stdout=subprocess.PIPE)
    archive = workdir / done.stdout.decode().strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        tar.extract(f"package/generated/{member}", path=workdir / archive.stem, filter="data")
    return workdir / archive.stem / "package" / "generated" / member


def _pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _collect_refs(node: Any, document: dict[str, Any], seen: set[str]) -> None:
    """Add every ``#/...`` reference reachable from ``node`` to ``seen``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
                seen.add(ref)
                stack.append(_pointer(document, ref))
            stack.extend(v for k, v in item.items() if k not in ("examples", "example"))
        elif isinstance(item, list):
            stack.extend(item)


def _drop_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_examples(v) for k, v in node.items() if k not in ("examples", "example")}
    if isinstance(node, list):
        return [_drop_examples(v) for v in node]
    return node


def nullable_to_json_schema(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` into JSON Schema that accepts ``null``."""
    if isinstance(node, list):
        return [nullable_to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if not node.get("nullable"):
        return out
    if "type" in out and "$ref" not in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _set_pointer(target: dict[str, Any], ref: str, value: Any) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref.lstrip("#/").split("/")]
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _response_schema(document: dict[str, Any], response: dict[str, Any]) -> Any:
    if "$ref" in response:
        response = _pointer(document, response["$ref"])
    return response["content"]["application/json"]["schema"]


def trim_rest(document: dict[str, Any]) -> dict[str, Any]:
    """Keep the chosen response schemas and the components they need."""
    operations: dict[str, Any] = {}
    for method, path, status in REST_RESPONSES:
        response = document["paths"][path][method]["responses"][status]
        operations[operation_key(method, path, status)] = _response_schema(document, response)
    refs: set[str] = set()
    _collect_refs(operations, document, refs)
    trimmed: dict[str, Any] = {"operations": operations}
    for ref in sorted(refs):
        _set_pointer(trimmed, ref, _pointer(document, ref))
    return nullable_to_json_schema(_drop_examples(trimmed))


def trim_webhooks(document: dict[str, Any]) -> dict[str, Any]:
    """Keep the chosen webhook payload schemas and the components they need."""
    events: dict[str, Any] = {}
    for name in WEBHOOKS:
        events[name] = document["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs: set[str] = set()
    _collect_refs(events, document, refs)
    trimmed: dict[str, Any] = {"events": events}
    for ref in sorted(refs):
        _set_pointer(trimmed, ref, _pointer(document, ref))
    return _drop_examples(trimmed)


def build(rest_file: Path, webhooks_file: Path) -> dict[str, Any]:
    rest = json.loads(rest_file.read_text())
    hooks = json.loads(webhooks_file.read_text())
    return {
        "sources": {"rest": REST_PACKAGE, "webhooks": WEBHOOKS_PACKAGE},
        "rest": trim_rest(rest),
        "webhooks": trim_webhooks(hooks),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest", type=Path, help="unpacked api.github.com.json of @octokit/openapi")
    parser.add_argument("--webhooks", type=Path, help="unpacked api.github.com.json of @octokit/openapi-webhooks")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rest_file = args.rest or _npm_unpack(REST_PACKAGE, workdir, "api.github.com.json")
        hooks_file = args.webhooks or _npm_unpack(WEBHOOKS_PACKAGE, workdir, "api.github.com.json")
        subset = build(rest_file, hooks_file)
    data = json.dumps(subset, sort_keys=True, separators=(",", ":")).encode()
    args.output.write_bytes(gzip.compress(data, mtime=0))
    print(f"wrote {args.output.name}: {len(data)} bytes of JSON, {args.output.stat().st_size} compressed")


if __name__ == "__main__":
    main()
