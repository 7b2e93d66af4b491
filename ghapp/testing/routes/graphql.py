"""``POST /graphql``: GitHub's GraphQL API, executed by graphql-core against a subset of GitHub's schema.

The schema is ``schemas/github-subset.graphql`` (cut from ``@octokit/graphql-schema``), so a document
GitHub's schema rejects is rejected here too, with graphql-core's validation messages (GitHub's own
server words them differently), and an answer carries exactly the fields selected.

As GitHub does, every answer is HTTP 200 with ``data`` and/or ``errors``: an invalid document is refused
with a 200 (ansible/ansibullbot#796), a syntax error too, with no ``type`` (yanyongyu/githubkit#159), and
an error found before execution (syntax, validation, pagination limits) leaves ``data`` out. Field errors
keep ``data`` with the field null and carry ``type``, ``path``, ``locations`` and ``message``
(octokit/graphql.js#314). A query is scored and charged to the ``graphql`` budget before it runs
(``ghapp.testing.gql_cost``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from flask import request
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from ghapp.testing.errors import graphql_rate_limited
from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.gql_cost import score
from ghapp.testing.gql_resolvers import Context, GitHubGraphQLError, bind

SCHEMA_FILE = "github-subset.graphql"


@cache
def schema() -> GraphQLSchema:
    """The subset schema with the simulator's resolvers attached (built once per process)."""
    text = resources.files("ghapp.testing.schemas").joinpath(SCHEMA_FILE).read_text()
    return bind(build_schema(text))


def _error(message: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "message": message}


def _formatted(error: GraphQLError) -> dict[str, Any]:
    """GitHub's error shape: ``type`` (for errors a resolver raised), ``path``, ``locations``, ``message``."""
    original = error.original_error
    if original is not None and not isinstance(original, GitHubGraphQLError):
        raise original  # a bug in the simulator, not an answer GitHub would give
    out: dict[str, Any] = {}
    if isinstance(original, GitHubGraphQLError):
        out["type"] = original.kind
        if original.extensions is not None:
            out["extensions"] = original.extensions
    if error.path is not None:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["message"] = error.message
    return out


def graphql(call: Call) -> Reply:
    call.sim.counters.add("graphql_requests")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return Reply({"errors": [_error("A query attribute must be specified and must be a string.")]})
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return Reply({"errors": [_error("Variables are invalid JSON.")]})
    operation_name = body.get("operationName")
    try:
        document: DocumentNode = parse(body["query"])
    except GraphQLError as exc:
        return Reply({"errors": [_formatted(exc)]})
    invalid = validate(schema(), document)
    if invalid:
        return Reply({"errors": [_formatted(e) for e in invalid]})
    operation = get_operation_ast(document, operation_name)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    cost, node_count = 1, 0
    if operation is not None:
        scored = score(schema(), operation, fragments, variables)
        if scored.errors:
            return Reply({"errors": scored.errors})
        cost, node_count = scored.cost, scored.node_count
    assert call.installation is not None and call.identity is not None  # installation tokens only
    sim = call.sim
    # The gateway took one point for the request; the rest of the score is taken here.
    charged, rate = sim.limiter.spend(call.identity, "graphql", sim.world.now(), cost - 1, limit=call.limit)
    if not charged:
        # The same answer as the gateway's for a budget already spent, and like that refusal it costs
        # nothing (whether GitHub keeps a point for a refused query is not documented).
        sim.counters.add("rate_limited_requests", -1)
        rate = sim.limiter.refund(call.identity, "graphql", sim.world.now(), limit=call.limit)
        message = f"API rate limit exceeded for installation ID {call.installation.id}."
        return Reply(graphql_rate_limited(message, sim.config.graphql_limit_type), headers=rate.headers())
    context = Context(call=call, cost=cost, node_count=node_count, rate=rate)
    with sim.world.lock:
        result = execute(
            schema(), document, context_value=context, variable_values=variables, operation_name=operation_name
        )
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [_formatted(e) for e in result.errors]
    if result.data is not None or not result.errors:
        answer["data"] = result.data
    return Reply(answer, headers=rate.headers())


ROUTES = [Route("POST", "/graphql", graphql, resource="graphql")]
