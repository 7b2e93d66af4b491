"""``pyproject.toml`` and ``requirements.lock`` agree: every dependency ghapp declares (runtime, dev and
embedded extras) is pinned in the lock that CI and ``make`` install, and each pin satisfies the declared
range. (That the virtualenv holds exactly the locked versions is checked by ``.ci/audit.sh`` in CI.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


@pytest.mark.parametrize("requirement", _declared(), ids=str)
def test_every_declared_dependency_is_locked_within_its_range(requirement):
    pins = _locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in requirements.lock"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"requirements.lock pins {requirement.name}=={pins[name]}, outside pyproject.toml's {requirement}"
    )
