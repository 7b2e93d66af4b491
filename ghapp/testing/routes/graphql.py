"""``POST /graphql`` for the two mutations REST cannot do: marking a draft ready and converting back.

Not a GraphQL engine: the operation is recognised by name and its ``pullRequestId`` is read from the
inline input or from ``variables``; anything else gets a GraphQL-shaped error.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.models import grants

MUTATIONS = {"markPullRequestReadyForReview": False, "convertPullRequestToDraft": True}
FIELD = re.compile(r"\b(markPullRequestReadyForReview|convertPullRequestToDraft)\s*\(")
INLINE_ID = re.compile(r"pullRequestId\s*:\s*(?:\"([^\"]*)\"|\$(\w+))")
INPUT_VAR = re.compile(r"input\s*:\s*\$(\w+)")


def _error(message: str, *, kind: str | None = None, path: list[str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if kind:
        error["type"] = kind
    if path:
        error["path"] = path
        error["locations"] = [{"line": 1, "column": 1}]
    return error


def _pull_request_id(query: str, variables: dict[str, Any]) -> str | None:
    inline = INLINE_ID.search(query)
    if inline:
        if inline.group(1) is not None:
            return inline.group(1)
        value = variables.get(inline.group(2))
        return str(value) if value is not None else None
    whole = INPUT_VAR.search(query)
    if whole:
        value = variables.get(whole.group(1))
        if isinstance(value, dict) and value.get("pullRequestId") is not None:
            return str(value["pullRequestId"])
    return None


def graphql(call: Call) -> Reply:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return Reply({"errors": [_error("A query attribute must be specified and must be a string.")]})
    query: str = body["query"]
    variables = body.get("variables") or {}
    found = FIELD.search(query)
    if not query.lstrip().startswith("mutation") or found is None:
        return Reply({"errors": [_error("This simulator answers only the pull request draft mutations.")]})
    name = found.group(1)
    node = _pull_request_id(query, variables if isinstance(variables, dict) else {})
    if node is None:
        expected = f"{name[0].upper()}{name[1:]}Input!"
        message = f"Argument 'input' on Field '{name}' has an invalid value. Expected type '{expected}'."
        return Reply({"errors": [_error(message, path=[name])]})
    world = call.world
    with world.lock:
        pull = world.pulls_by_node.get(node)
        reachable = pull is not None and call.installation is not None
        if reachable:
            owner = world.installation_for(pull.repo)
            reachable = (
                owner is not None
                and owner.id == call.installation.id
                and (call.token.repo_ids is None or pull.repo.id in call.token.repo_ids)
            )
        if not reachable:
            error = _error(f"Could not resolve to a node with the global id of '{node}'", kind="NOT_FOUND", path=[name])
            return Reply({"data": {name: None}, "errors": [error]})
        if not grants(call.token.permissions, "pull_requests", "write"):
            error = _error("Resource not accessible by integration", kind="FORBIDDEN", path=[name])
            return Reply({"data": {name: None}, "errors": [error]})
        if pull.state != "open":
            error = _error("Pull request is closed", kind="UNPROCESSABLE", path=[name])
            return Reply({"data": {name: None}, "errors": [error]})
        world.set_draft(pull, MUTATIONS[name], call.actor)
        result = {"id": pull.node_id, "number": pull.number, "isDraft": pull.draft, "state": pull.state.upper()}
    return Reply({"data": {name: {"clientMutationId": None, "pullRequest": result}}})


ROUTES = [Route("POST", "/graphql", graphql, resource="graphql")]
