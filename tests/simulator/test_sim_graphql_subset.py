"""The schema subset generator, on a small schema written like GitHub's: what it keeps, drops and refuses."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse

from ghapp.testing.schemas.graphql_subset import changed_fields, render

SOURCE = '''
"""The root."""
type Query implements Node {
  id: ID!
  "Look a thing up."
  thing(id: ID!, size: Int = 3): Thing
  other: String
}
type Mutation { poke(input: PokeInput!): Thing }
interface Node { id: ID! }
interface Extra { extra: String }
type Thing implements Node & Extra {
  id: ID!
  name: String!
  old: Int @deprecated(reason: "Use name.")
  unused: Boolean
  kind: Kind
  extra: String
}
enum Kind { A B }
input PokeInput { id: ID! level: Level = LOW }
enum Level { LOW HIGH }
type Lonely { a: Int }
'''

KEEP = {"Query": ["thing"], "Mutation": ["poke"], "Node": ["id"], "Thing": ["name", "old", "kind"]}


def test_keeps_what_is_asked_and_what_it_reaches() -> None:
    text = render(parse(SOURCE), "example@1.0.0", KEEP)
    assert text.startswith("# Subset of example@1.0.0 (schema.graphql)")
    schema = build_schema(text)
    assert list(schema.query_type.fields) == ["thing", "id"]  # type: ignore[union-attr]
    thing = schema.get_type("Thing")
    assert list(thing.fields) == ["name", "old", "kind", "id"]  # type: ignore[union-attr]
    assert [i.name for i in thing.interfaces] == ["Node"]  # type: ignore[union-attr]
    assert schema.get_type("Extra") is None
    assert thing.fields["old"].deprecation_reason == "Use name."  # type: ignore[union-attr]
    assert set(schema.get_type("PokeInput").fields) == {"id", "level"}  # type: ignore[union-attr]
    assert set(schema.get_type("Level").values) == {"LOW", "HIGH"}  # type: ignore[union-attr]
    assert '"""' not in text and "Look a thing up" not in text  # descriptions are dropped
    assert "size: Int = 3" in text


@pytest.mark.parametrize(
    ("keep", "reason"),
    [
        ({**KEEP, "Thing": ["name", "nothing"]}, "Thing has no field nothing"),
        ({key: value for key, value in KEEP.items() if key != "Thing"}, "Thing is reached but KEEP does not say"),
        ({**KEEP, "Lonely": ["a"]}, "Lonely is in KEEP but no kept field reaches it"),
    ],
)
def test_refuses_an_incomplete_or_impossible_choice(keep: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        render(parse(SOURCE), "example@1.0.0", keep)


def test_a_changed_field_is_found() -> None:
    source = build_schema(SOURCE)
    cut = build_schema(render(parse(SOURCE), "example@1.0.0", KEEP))
    assert changed_fields(source, cut) == []
    altered = build_schema(
        SOURCE.replace("size: Int = 3", "size: Int = 4")
        .replace("enum Kind { A B }", "enum Kind { A }")
        .replace("level: Level = LOW", "level: Level = HIGH")
    )
    assert sorted(changed_fields(altered, cut)) == ["Kind", "PokeInput", "Query.thing"]
