"""GitHub's published schemas, trimmed to what the simulator answers, and validators built on them."""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SUBSET = "github-subset.json.gz"


@cache
def load_subset() -> dict[str, Any]:
    """The generated subset, with local ``#/...`` references made absolute (``urn:rest#/...``)."""
    raw = resources.files(__package__).joinpath(SUBSET).read_bytes()
    text = gzip.decompress(raw).decode()
    data = json.loads(text)
    rest = json.loads(json.dumps(data["rest"]).replace('"#/', '"urn:rest#/'))
    hooks = json.loads(json.dumps(data["webhooks"]).replace('"#/', '"urn:hooks#/'))
    return {"sources": data["sources"], "rest": rest, "webhooks": hooks}


@cache
def _registry() -> Registry:
    subset = load_subset()
    return Registry().with_resources(
        [
            ("urn:rest", Resource(contents=subset["rest"], specification=DRAFT202012)),
            ("urn:hooks", Resource(contents=subset["webhooks"], specification=DRAFT202012)),
        ]
    )


def response_validator(method: str, path: str, status: int | str) -> Draft202012Validator:
    """A validator for GitHub's documented response to ``method path`` with ``status``."""
    key = f"{method.upper()} {path} {status}"
    schema = load_subset()["rest"]["operations"][key]
    return Draft202012Validator(schema, registry=_registry())


def webhook_validator(name: str) -> Draft202012Validator:
    """A validator for a webhook payload, by the name GitHub's description uses (``pull-request-opened``)."""
    schema = load_subset()["webhooks"]["events"][name]
    return Draft202012Validator(schema, registry=_registry())


def component_validator(name: str) -> Draft202012Validator:
    """A validator for one of the REST description's ``components/schemas`` (e.g. ``installation``)."""
    return Draft202012Validator({"$ref": f"urn:rest#/components/schemas/{name}"}, registry=_registry())
