"""The app manifest (``app.yml``) and the pure comparison of an installation's grants with it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}
# GitHub sends these to every app whatever it subscribes to, so an installation need not list them.
ALWAYS_DELIVERED = frozenset({"installation", "installation_repositories"})


class ManifestError(ValueError):
    """The manifest is missing or malformed; the message says which file and what is wrong."""


@dataclass(frozen=True)
class Manifest:
    permissions: dict[str, str]
    events: tuple[str, ...]
    path: Path


def default_manifest_path() -> Path:
    """The packaged ``ghapp/app.yml`` if present, else the ``app.yml`` at the project root."""
    package_dir = Path(__file__).resolve().parent.parent
    packaged = package_dir / "app.yml"
    if packaged.exists():
        return packaged
    root = package_dir.parent / "app.yml"
    if root.exists():
        return root
    return Path("app.yml")


def load_manifest(path: Path | str | None = None) -> Manifest:
    """Read ``default_permissions`` and ``default_events`` from the manifest."""
    target = Path(path) if path is not None else default_manifest_path()
    try:
        data: Any = yaml.safe_load(target.read_text())
    except OSError as exc:
        raise ManifestError(f"the app manifest {target} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"the app manifest {target} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ManifestError(f"the app manifest {target} is not a mapping")
    permissions = data.get("default_permissions") or {}
    events = data.get("default_events") or []
    if not isinstance(permissions, Mapping) or not isinstance(events, list):
        raise ManifestError(
            f"the app manifest {target} needs default_permissions (a mapping) and default_events (a list)"
        )
    for name, level in permissions.items():
        if str(level) not in LEVELS:
            raise ManifestError(f"the app manifest {target} asks for {name}: {level}, not one of read, write, admin")
    return Manifest({str(k): str(v) for k, v in permissions.items()}, tuple(str(e) for e in events), target)


def missing_grants(
    required_permissions: Mapping[str, str],
    granted_permissions: Mapping[str, str],
    required_events: Iterable[str],
    granted_events: Iterable[str],
) -> list[str]:
    """Plain sentences naming each permission granted below the manifest and each event not subscribed."""
    problems = []
    for name, level in sorted(required_permissions.items()):
        granted = str(granted_permissions.get(name, "none"))
        if LEVELS.get(granted, 0) < LEVELS[level]:
            problems.append(f"permission {name} is {granted}, the app needs {level}")
    subscribed = set(granted_events)
    for event in sorted(set(required_events) - subscribed - ALWAYS_DELIVERED):
        problems.append(f"event {event} is not subscribed")
    return problems
