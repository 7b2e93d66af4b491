"""Is a webhook payload one GitHub could have sent? A sentence saying what is wrong, or None.

The web view acknowledges every signed delivery without parsing it (GitHub wants its answer fast), so
a payload that lacks what ghapp's handlers read reaches the worker. There it is a deterministic error:
retrying cannot fix it. The worker checks it here first, against ``payload_shapes.json``: the events and
actions GitHub documents, and for each one ghapp handles the properties its handlers read, with the
types and required keys of ``@octokit/openapi-webhooks`` (regenerate it with
``python -m ghapp.github.payload_shapes_generate``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

SHAPES_FILE = Path(__file__).with_name("payload_shapes.json")
ADVICE = (
    "it was not applied and will not be retried. If GitHub sent it (the App's Advanced settings list "
    "its recent deliveries), GitHub's payload has changed and ghapp needs updating; otherwise fix the sender"
)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return json.loads(SHAPES_FILE.read_text())


@lru_cache(maxsize=1)
def _validators() -> dict[str, Draft202012Validator]:
    validators = {}
    for shape in _document()["shapes"]:
        validator = Draft202012Validator(shape["schema"])
        for name in shape["payloads"]:
            validators[name] = validator
    return validators


def source() -> str:
    """The published schemas the shapes were taken from (package and version)."""
    return str(_document()["source"]).split(" ", 1)[0]


def problem(event: str, payload: Any) -> str | None:
    """What makes ``payload`` unlike any ``event`` delivery GitHub documents, as a sentence; None when it fits."""
    events: dict[str, list[str]] = _document()["events"]
    if event not in events:
        return f"GitHub documents no webhook event named {event!r} ({source()}); {ADVICE}"
    if not isinstance(payload, dict):
        return f"the {event} payload is a JSON {type(payload).__name__}, not an object; {ADVICE}"
    action = payload.get("action")
    if events[event] and action not in events[event]:
        what = "has no action" if action is None else f"has the action {action!r}, which GitHub does not document"
        return f"the {event} payload {what} ({source()}); {ADVICE}"
    validator = _validators().get(f"{event}.{action}" if events[event] else event)
    if validator is None:
        return None  # an event ghapp does not handle: nothing of it is read
    error = best_match(validator.iter_errors(payload))
    if error is None:
        return None
    return f"the {event} payload is not what GitHub documents: {_describe(error)} ({source()}); {ADVICE}"


def _describe(error: ValidationError) -> str:
    """``pull_request.head`` is missing / is a string, not an object: short and pointing at the field."""
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else str(error.message)
        field = f"{where}.{missing}" if where else missing
        return f"{field!r} is missing"
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        expected = " or ".join(ARTICLES.get(kind, kind) for kind in kinds)
        found = _json_type(error.instance)
        return f"{where!r} is {found}, where GitHub sends {expected}"
    return f"{where or 'the payload'}: {error.message}"


ARTICLES = {
    "object": "an object", "array": "an array", "string": "a string", "boolean": "a boolean",
    "integer": "an integer", "number": "a number", "null": "null",
}


def _json_type(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
    return ARTICLES.get(kinds.get(type(value), "null" if value is None else ""), type(value).__name__)
