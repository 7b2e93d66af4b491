"""Build the subset of GitHub's published GraphQL schema that the simulator executes against.

GitHub publishes its GraphQL schema in the npm package ``@octokit/graphql-schema`` (``schema.graphql``,
over a megabyte of SDL). The simulator answers a few root fields; this script keeps those, every type
they reach, and on object and interface types only the fields the simulator resolves (``KEEP``). A kept
field keeps GitHub's type and arguments unchanged, input objects and enums are kept whole, and GitHub's
descriptions are dropped (deprecation reasons stay). The result is ``github-subset.graphql``, which
records the package version in its first line.

Run it with ``python -m ghapp.testing.schemas.graphql_subset`` (it fetches the package with ``npm pack``),
or point it at an unpacked ``schema.graphql`` with ``--schema FILE``.
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    parse,
    print_ast,
)

PACKAGE = "@octokit/graphql-schema@15.26.1"
OUTPUT = Path(__file__).with_name("github-subset.graphql")
BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}

# Object and interface types the simulator resolves, and the fields it resolves on each. A field an
# interface of a kept type requires is added to that type by itself (``id`` of ``Node``, ``login`` of ``Actor``).
KEEP: dict[str, list[str]] = {
    "Query": ["node", "repository", "rateLimit"],
    "Mutation": [
        "markPullRequestReadyForReview",
        "convertPullRequestToDraft",
        "enqueuePullRequest",
        "dequeuePullRequest",
        "enablePullRequestAutoMerge",
        "disablePullRequestAutoMerge",
        "resolveReviewThread",
        "unresolveReviewThread",
    ],
    "Node": ["id"],
    "Actor": ["login"],
    "User": ["login", "url"],
    "Bot": ["login", "url"],
    "Repository": ["id", "name", "nameWithOwner", "url", "pullRequest", "pullRequests", "ref", "defaultBranchRef"],
    "Ref": ["id", "name", "target"],
    "GitObject": ["oid"],
    "Commit": ["id", "oid", "tree", "file"],
    "Tree": ["id", "oid"],
    "TreeEntry": ["oid", "object"],
    "Blob": ["id", "oid", "isBinary", "text"],
    "PullRequest": [
        "id",
        "number",
        "title",
        "state",
        "isDraft",
        "merged",
        "closed",
        "headRefOid",
        "headRefName",
        "baseRefOid",
        "baseRefName",
        "createdAt",
        "updatedAt",
        "url",
        "author",
        "repository",
        "mergeable",
        "mergeStateStatus",
        "reviewDecision",
        "statusCheckRollup",
        "reviews",
        "comments",
        "reviewRequests",
        "autoMergeRequest",
        "isInMergeQueue",
        "mergeQueueEntry",
        "reviewThreads",
    ],
    "PullRequestReviewThreadConnection": ["nodes", "pageInfo", "totalCount"],
    "PullRequestReviewThread": ["id", "isResolved", "path", "line", "resolvedBy", "comments"],
    "PullRequestReviewCommentConnection": ["nodes", "pageInfo", "totalCount"],
    "PullRequestReviewComment": ["id", "databaseId", "body", "author"],
    "ResolveReviewThreadPayload": ["clientMutationId", "thread"],
    "UnresolveReviewThreadPayload": ["clientMutationId", "thread"],
    "PullRequestConnection": ["nodes", "pageInfo", "totalCount"],
    "PageInfo": ["endCursor", "hasNextPage", "hasPreviousPage", "startCursor"],
    "StatusCheckRollup": ["id", "state", "contexts"],
    "StatusCheckRollupContextConnection": ["nodes", "pageInfo", "totalCount"],
    "CheckRun": ["id", "name", "status", "conclusion", "detailsUrl"],
    "StatusContext": ["id", "context", "state", "description", "targetUrl"],
    "PullRequestReviewConnection": ["nodes", "pageInfo", "totalCount"],
    "PullRequestReview": ["id", "state", "author", "submittedAt"],
    "IssueCommentConnection": ["totalCount"],
    "ReviewRequestConnection": ["totalCount"],
    "RateLimit": ["cost", "limit", "nodeCount", "remaining", "resetAt", "used"],
    "MarkPullRequestReadyForReviewPayload": ["clientMutationId", "pullRequest"],
    "ConvertPullRequestToDraftPayload": ["clientMutationId", "pullRequest"],
    "EnqueuePullRequestPayload": ["clientMutationId", "mergeQueueEntry"],
    "DequeuePullRequestPayload": ["clientMutationId", "mergeQueueEntry"],
    "EnablePullRequestAutoMergePayload": ["clientMutationId", "pullRequest"],
    "DisablePullRequestAutoMergePayload": ["clientMutationId", "pullRequest"],
    "MergeQueueEntry": ["id", "position", "state", "enqueuedAt", "pullRequest"],
    "AutoMergeRequest": ["enabledAt", "enabledBy", "mergeMethod", "pullRequest"],
}

Definition = Any  # one of graphql-core's type definition nodes


def _named(type_node: TypeNode) -> str:
    while isinstance(type_node, (NonNullTypeNode, ListTypeNode)):
        type_node = type_node.type
    return type_node.name.value  # type: ignore[attr-defined]


def _field_types(field: FieldDefinitionNode) -> list[str]:
    return [_named(field.type), *(_named(arg.type) for arg in field.arguments or ())]


def _definitions(document: DocumentNode) -> dict[str, Definition]:
    """Type definitions by name (GitHub's file repeats a few fields, which is why it is not built whole)."""
    found: dict[str, Definition] = {}
    for node in document.definitions:
        if isinstance(node, TypeDefinitionNode):
            found.setdefault(node.name.value, node)
    return found


def _copy(node: Any, **changes: Any) -> Any:
    """A copy of an AST node with some attributes replaced (the nodes are immutable)."""
    return type(node)(**{**{key: getattr(node, key, None) for key in node.keys}, **changes})


def _strip(node: Any) -> Any:
    """Drop descriptions and every directive but ``@deprecated`` from a definition and its parts."""
    if isinstance(node, (list, tuple)):
        return tuple(_strip(item) for item in node)
    if not hasattr(node, "keys"):
        return node
    changes: dict[str, Any] = {}
    for key in node.keys:
        value = getattr(node, key, None)
        if key == "description":
            changes[key] = None
        elif key == "directives" and value:
            changes[key] = tuple(d for d in value if d.name.value == "deprecated")
        elif key not in ("loc", "name") and value is not None and not isinstance(value, (str, bool)):
            changes[key] = _strip(value)
    return _copy(node, **changes)


def _pruned(node: Definition, names: list[str], kept: set[str]) -> Definition:
    by_name = {f.name.value: f for f in node.fields}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"{node.name.value} has no field {', '.join(missing)} in GitHub's schema")
    interfaces = tuple(i for i in node.interfaces or () if i.name.value in kept)
    return _copy(node, fields=tuple(by_name[n] for n in names), interfaces=interfaces)


def subset(document: DocumentNode, keep: dict[str, list[str]] = KEEP) -> DocumentNode:
    """The definitions reachable from ``keep``'s root fields, pruned to ``keep``'s fields."""
    definitions = _definitions(document)
    wanted: dict[str, list[str]] = {name: list(fields) for name, fields in keep.items()}
    for name, fields in list(wanted.items()):  # a kept type carries the kept fields of its kept interfaces
        for interface in definitions[name].interfaces or ():
            for field in wanted.get(interface.name.value, ()):
                if field not in fields:
                    fields.append(field)
    chosen: dict[str, Definition] = {}
    pending = ["Query", "Mutation"]
    while pending:
        name = pending.pop()
        if name in chosen or name in BUILT_IN_SCALARS:
            continue
        node = definitions[name]
        reached: list[str] = []
        if isinstance(node, (ObjectTypeDefinitionNode, InterfaceTypeDefinitionNode)):
            if name not in wanted:
                raise ValueError(f"{name} is reached but KEEP does not say which of its fields to keep")
            node = _pruned(node, wanted[name], set(wanted))
            for field in node.fields:
                reached.extend(_field_types(field))
            reached.extend(i.name.value for i in node.interfaces)
            if isinstance(node, InterfaceTypeDefinitionNode):  # and the kept types that implement it
                reached.extend(n for n in wanted if name in {i.name.value for i in definitions[n].interfaces or ()})
        elif isinstance(node, UnionTypeDefinitionNode):
            reached.extend(t.name.value for t in node.types)
        elif isinstance(node, InputObjectTypeDefinitionNode):
            reached.extend(_named(f.type) for f in node.fields)
        elif not isinstance(node, (EnumTypeDefinitionNode, ScalarTypeDefinitionNode)):
            raise ValueError(f"{name}: unexpected definition {node.kind}")
        chosen[name] = node
        pending.extend(reached)
    for name in wanted:
        if name not in chosen:
            raise ValueError(f"{name} is in KEEP but no kept field reaches it")
    ordered = [_strip(chosen[name]) for name in sorted(chosen)]
    return DocumentNode(definitions=tuple(ordered))


def _default(value: Any) -> str | None:
    """An argument's or input field's default as written in the SDL (both schemas are built from SDL)."""
    node = value.ast_node
    return print_ast(node.default_value) if node is not None and node.default_value is not None else None


def _signature(field: Any) -> tuple[str, dict[str, tuple[str, str | None]], str | None]:
    arguments = {name: (str(arg.type), _default(arg)) for name, arg in field.args.items()}
    return str(field.type), arguments, field.deprecation_reason


def _whole(kind: Any) -> Any:
    """What an input object, enum or union must keep entire (the subset never cuts those)."""
    if isinstance(kind, GraphQLInputObjectType):
        return {name: (str(field.type), _default(field)) for name, field in kind.fields.items()}
    if isinstance(kind, GraphQLEnumType):
        return set(kind.values)
    if isinstance(kind, GraphQLUnionType):
        return {member.name for member in kind.types}
    return None


def changed_fields(source: GraphQLSchema, cut: GraphQLSchema) -> list[str]:
    """Kept fields whose type, arguments or deprecation differ from GitHub's, and inputs or enums cut short."""
    changed: list[str] = []
    for name, kept in cut.type_map.items():
        if name.startswith("__"):
            continue
        original: Any = source.type_map[name]
        if isinstance(kept, (GraphQLObjectType, GraphQLInterfaceType)):
            changed.extend(
                f"{name}.{field}"
                for field, definition in kept.fields.items()
                if _signature(definition) != _signature(original.fields[field])
            )
        elif _whole(kept) != _whole(original):
            changed.append(name)
    return changed


def render(document: DocumentNode, package: str, keep: dict[str, list[str]] = KEEP) -> str:
    """The subset as SDL, after checking it is a schema of its own that changes nothing it keeps."""
    text = print_ast(subset(document, keep))
    cut = build_ast_schema(parse(text))
    changed = changed_fields(build_ast_schema(document, assume_valid_sdl=True), cut)
    if changed:
        raise ValueError(f"the subset changed GitHub's definition of {', '.join(changed)}")
    header = f"# Subset of {package} (schema.graphql), written by ghapp.testing.schemas.graphql_subset.\n\n"
    return header + text + "\n"


def _npm_unpack(package: str, workdir: Path) -> Path:
    done = subprocess.run(["npm", "pack", "--silent", package], cwd=workdir, check=True, stdout=subprocess.PIPE)
    archive = workdir / done.stdout.decode().strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        tar.extract("package/schema.graphql", path=workdir, filter="data")
    return workdir / "package" / "schema.graphql"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, help=f"an unpacked schema.graphql of {PACKAGE}")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.schema or _npm_unpack(PACKAGE, Path(tmp))
        document = parse(source.read_text(), no_location=True)
    args.output.write_text(render(document, PACKAGE))
    print(f"wrote {args.output.name}: {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
