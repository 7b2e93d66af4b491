"""ghapp's layers, read from the source with ``ast``: what may import what.

The order is the one ``docs/architecture.md`` draws, lowest first. A module
may import its own package and anything in a lower layer, never a higher one;
imports inside functions and under ``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import ghapp

ROOT = Path(ghapp.__file__).resolve().parent

LAYERS: list[set[str]] = [
    {"config", "logs", "connections", "embedded", "branches", "job_ids", "setup_flow"},
    {"store"},
    {"runtime"},
    {"pod"},
    {"github"},
    {"metrics"},
    {"sync"},
    {"status_model", "webhook_sender"},
    {"web"},
    {"status_report", "demo", "demo_stack"},
    {"testing"},
    {"cli"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

# The web answers GitHub and the pod without calling GitHub: of ``ghapp.github`` it may read only
# the constants that the setup page's manifest-code exchange sends.
WEB_MAY_IMPORT_FROM_GITHUB = {"ghapp.github.headers"}


def module_name(path: Path) -> str:
    parts = ("ghapp", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """The package or top-level module of ``ghapp.<unit>...``: the thing the layers order."""
    return module.split(".")[1] if module.count(".") else ""


def ghapp_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every ghapp module ``path`` imports, wherever the import statement stands."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ghapp."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ghapp":
                for alias in node.names:
                    yield node.lineno, f"ghapp.{alias.name}"
            elif node.module.startswith("ghapp."):
                yield node.lineno, node.module


def all_imports() -> list[tuple[str, int, str]]:
    return [
        (module_name(path), line, imported)
        for path in sorted(ROOT.rglob("*.py"))
        for line, imported in ghapp_imports(path)
    ]


IMPORTS = all_imports()


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(p)) for p in ROOT.rglob("*.py")} - {""}
    assert units - RANK.keys() == set(), "add the new package or module to LAYERS and to docs/architecture.md"


def test_no_package_imports_a_higher_layer():
    upward = [
        f"{module}:{line} imports {imported}"
        for module, line, imported in IMPORTS
        if unit_of(module) and unit_of(imported) != unit_of(module)
        and RANK[unit_of(imported)] > RANK[unit_of(module)]
    ]
    assert upward == []


def test_the_pod_layer_imports_nothing_from_the_sync():
    assert [
        f"{module}:{line} imports {imported}"
        for module, line, imported in IMPORTS
        if unit_of(module) == "pod" and unit_of(imported) == "sync"
    ] == []


def test_the_web_imports_no_module_that_calls_github():
    assert [
        f"{module}:{line} imports {imported}"
        for module, line, imported in IMPORTS
        if unit_of(module) == "web" and unit_of(imported) == "github" and imported not in WEB_MAY_IMPORT_FROM_GITHUB
    ] == []


def test_production_code_does_not_import_the_simulator():
    allowed = {"testing", "cli"}  # ``ghapp serve`` starts the simulator when no App is configured
    assert [
        f"{module}:{line} imports {imported}"
        for module, line, imported in IMPORTS
        if unit_of(imported) == "testing" and unit_of(module) not in allowed
    ] == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, _line, imported in IMPORTS:
        source, target = unit_of(module), unit_of(imported)
        if source and target and source != target:
            graph.setdefault(source, set()).add(target)
    return graph


def test_no_import_cycle_between_ghapps_packages():
    assert find_cycle(package_graph()) is None


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}}, None),
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
        ({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}, None),
    ],
)
def test_find_cycle_finds_a_cycle_and_only_a_cycle(graph, cycle):
    assert find_cycle(graph) == cycle


def test_the_checks_see_imports_inside_functions(tmp_path):
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from ghapp.sync import queue\n    import ghapp.github.client\n")
    assert list(ghapp_imports(source)) == [(2, "ghapp.sync"), (3, "ghapp.github.client")]
