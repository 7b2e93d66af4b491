"""Every GraphQL document ghapp sends is valid against GitHub's schema, as the simulator holds it.

The subset in ``ghapp/testing/schemas/github-subset.graphql`` is cut from ``@octokit/graphql-schema`` by
``ghapp/testing/schemas/graphql_subset.py`` without changing a kept field's type or arguments, so a document
valid here is valid on GitHub for the fields it uses. The documents are found, not listed: every
module-level string of ghapp (outside ``ghapp.testing``) that parses as a GraphQL operation.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from graphql import GraphQLError, OperationDefinitionNode, build_schema, parse, validate

import ghapp
from ghapp.github import pulls
from ghapp.testing.schemas import graphql_subset

SUBSET = Path(graphql_subset.__file__).with_name("github-subset.graphql")
NOT_IMPORTABLE = {"ghapp.store.migrations.env"}  # alembic's env script runs only under alembic


def _documents() -> dict[str, str]:
    found: dict[str, str] = {}
    for module_info in pkgutil.walk_packages(ghapp.__path__, "ghapp."):
        if module_info.name.startswith("ghapp.testing") or module_info.name in NOT_IMPORTABLE:
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if not isinstance(value, str) or not value.strip():
                continue
            try:
                document = parse(value)
            except GraphQLError:
                continue
            if any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
                found[f"{module_info.name}.{name}"] = value
    return found


DOCUMENTS = _documents()


def test_the_search_finds_the_draft_mutations() -> None:
    assert DOCUMENTS["ghapp.github.pulls.MARK_READY"] == pulls.MARK_READY
    assert DOCUMENTS["ghapp.github.pulls.CONVERT_TO_DRAFT"] == pulls.CONVERT_TO_DRAFT


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_ghapp_document_is_valid_against_githubs_schema(name: str) -> None:
    schema = build_schema(SUBSET.read_text())
    errors = validate(schema, parse(DOCUMENTS[name]))
    assert not errors, f"{name}: " + "; ".join(e.message for e in errors)


def test_the_subset_names_its_package_and_version() -> None:
    first_line = SUBSET.read_text().splitlines()[0]
    assert graphql_subset.PACKAGE in first_line
    assert graphql_subset.PACKAGE.startswith("@octokit/graphql-schema@")


def test_a_document_with_an_unknown_field_is_not_valid() -> None:
    schema = build_schema(SUBSET.read_text())
    broken = pulls.MARK_READY.replace("isDraft", "isDraftt")
    errors = validate(schema, parse(broken))
    assert [e.message for e in errors] == [
        "Cannot query field 'isDraftt' on type 'PullRequest'. Did you mean 'isDraft'?"
    ]


@pytest.mark.parametrize("repos", [1, 7, 50])
def test_the_sweeps_built_query_is_valid_against_githubs_schema(repos: int) -> None:
    """The sweep's query is built for the number of repositories it reads, so it is checked here."""
    from ghapp.github.open_pulls import batch_query

    errors = validate(build_schema(SUBSET.read_text()), parse(batch_query(repos)))
    assert not errors, "; ".join(e.message for e in errors)


def test_the_sweeps_query_reads_at_most_fifty_repositories() -> None:
    from ghapp.github.open_pulls import REPOS_PER_QUERY, batch_query

    with pytest.raises(ValueError, match="1 to 50"):
        batch_query(REPOS_PER_QUERY + 1)
    with pytest.raises(ValueError):
        batch_query(0)
