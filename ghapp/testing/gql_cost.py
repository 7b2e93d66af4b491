"""What a GraphQL operation costs before it runs: GitHub's node limit and rate-limit score.

GitHub docs, "Rate limits and query limits for the GraphQL API":
* every connection must carry ``first`` or ``last``, between 1 and 100, and a call may request at most
  500,000 nodes (a connection's nodes are its ``first``/``last`` times those of the connections around it);
* the score adds up the requests needed to fill each connection (one per node of the connections around
  it, one for a connection at the top), divides by 100, rounds to the nearest whole number, and is at
  least 1. The page names no separate rule for mutations, so they are scored the same way.

The error types and wording below are those of GitHub's answers as quoted in public projects
(``EXCESSIVE_PAGINATION``, ``MISSING_PAGINATION_BOUNDARIES``, ``MAX_NODE_LIMIT_EXCEEDED``); the docs do
not print them. GitHub lets a connection without ``first``/``last`` be asked only for ``totalCount`` or
``pageInfo`` (``comments { totalCount }`` is answered), so the boundary is required only where
``nodes`` or ``edges`` are selected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast_untyped,
)

PAGE_LIMIT = 100
NODE_LIMIT = 500_000


@dataclass
class Score:
    cost: int = 1
    node_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Tally:
    requests: int = 0
    nodes: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _location(node: FieldNode) -> list[dict[str, int]]:
    if node.loc is None:
        return []
    location = node.loc.source.get_location(node.loc.start)
    return [{"line": location.line, "column": location.column}]


def _argument(node: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for argument in node.arguments or ():
        if argument.name.value == name:
            return value_from_ast_untyped(argument.value, variables)
    return None


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> list[FieldNode]:
    """The fields of a selection set with its fragments spread in (each named fragment once per path)."""
    found: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found.extend(_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                found.extend(_fields(fragment.selection_set, fragments, seen | {selection.name.value}))
    return found


def _field_type(schema: GraphQLSchema, parent: Any, name: str) -> Any:
    """The named type of ``parent.name``; for a union or interface, the first possible type that has it."""
    candidates = [parent]
    if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        candidates = list(schema.get_possible_types(parent))
    for candidate in candidates:
        fields = getattr(candidate, "fields", {})
        if name in fields:
            return get_named_type(fields[name].type)
    return None


def _walk(
    schema: GraphQLSchema,
    parent: Any,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    path: list[str],
    multiplier: int,
    tally: _Tally,
) -> None:
    for node in _fields(selection_set, fragments, frozenset()):
        name = node.name.value
        kind = _field_type(schema, parent, name)
        if kind is None:  # __typename and other introspection
            continue
        here = [*path, node.alias.value if node.alias else name]
        inner = multiplier
        if kind.name.endswith("Connection"):
            first, last = _argument(node, "first", variables), _argument(node, "last", variables)
            for arg, value in (("first", first), ("last", last)):
                if isinstance(value, int) and value > PAGE_LIMIT:
                    tally.errors.append(
                        {
                            "type": "EXCESSIVE_PAGINATION",
                            "path": here,
                            "locations": _location(node),
                            "message": f"Requesting {value} records on the `{name}` connection exceeds the "
                            f"`{arg}` limit of {PAGE_LIMIT} records.",
                        }
                    )
            size = max(v for v in (first, last, 0) if isinstance(v, int))
            lists = {f.name.value for f in _fields(node.selection_set, fragments, frozenset())} & {"nodes", "edges"}
            if first is None and last is None and lists:
                tally.errors.append(
                    {
                        "type": "MISSING_PAGINATION_BOUNDARIES",
                        "path": here,
                        "locations": _location(node),
                        "message": f"You must provide a `first` or `last` value to properly paginate the `{name}` "
                        "connection.",
                    }
                )
            tally.requests += multiplier
            tally.nodes += multiplier * size
            inner = multiplier * size
        _walk(schema, kind, node.selection_set, fragments, variables, here, inner, tally)


def score(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Score:
    """The cost and node count of one validated operation, or GitHub's errors for its pagination."""
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    tally = _Tally()
    _walk(schema, root, operation.selection_set, fragments, variables, [], 1, tally)
    if tally.nodes > NODE_LIMIT:
        tally.errors.append(
            {
                "type": "MAX_NODE_LIMIT_EXCEEDED",
                "message": f"This query requests up to {tally.nodes:,} possible nodes which exceeds the maximum "
                f"limit of {NODE_LIMIT:,}.",
            }
        )
    cost = max(1, math.floor(tally.requests / 100 + 0.5))
    return Score(cost=cost, node_count=tally.nodes, errors=tally.errors)
