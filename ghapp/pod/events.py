"""The pod's event types: their JSON Schemas, and validation with per-field errors.

These schemas are the single source of truth: the pod API validates with
them and the OpenAPI description (``ghapp.web.openapi``) is built from them,
so documentation and validation cannot drift apart.

Field errors are keyed by a dotted path from the request body's root
(``"type"``, ``"data.repo"``, ``"data.dependencies.1"``) with one sentence each.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

ID_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"
BRANCH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$"
LOGIN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$"
SHA_PATTERN = r"^[0-9a-f]{40}([0-9a-f]{24})?$"
URL_PATTERN = r"^https?://[^\s]{1,2000}$"

PHASES = ("planning", "workstream_execution", "review", "completed", "cancelled")
TERMINAL_PHASES = ("completed", "cancelled")

# A short human description of each pattern, used in error messages instead of the regex.
PATTERN_HINTS = {
    ID_PATTERN: "1 to 100 characters among letters, digits, '.', '_' and '-'",
    REPO_PATTERN: "a repository as 'owner/name'",
    BRANCH_PATTERN: "a branch name: letters, digits, '.', '_', '-' and '/', not starting with '.-/'",
    LOGIN_PATTERN: "a GitHub login",
    SHA_PATTERN: "a full lowercase commit sha (40 hex digits, or 64 for SHA-256 repositories)",
    URL_PATTERN: "an http:// or https:// URL",
}


def _id(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": ID_PATTERN, "description": description}


def _text(description: str, max_length: int, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, "description": description}
    if min_length:
        schema["minLength"] = min_length
    return schema


WORKSTREAM_ID = _id("The workstream's id, unique within the task.")
SPEC = _text("What the workstream does; the PR's title (first line) and body follow it.", 60000, 1)
TITLE = _text("A title overriding the spec's first line.", 500, 1)
REPO = {"type": "string", "pattern": REPO_PATTERN, "description": "The GitHub repository, as owner/name."}
BRANCH = {"type": "string", "pattern": BRANCH_PATTERN, "description": "The base branch the PR targets."}
DEPENDENCIES = {
    "type": "array",
    "items": _id("The id of another workstream of the same task."),
    "uniqueItems": True,
    "maxItems": 100,
    "description": "Workstreams of the same task that must be merged first.",
}
REVIEWERS = {
    "type": "array",
    "items": {"type": "string", "pattern": LOGIN_PATTERN},
    "uniqueItems": True,
    "maxItems": 50,
    "description": "GitHub logins asked to review once the workstream is completed.",
}
REASON = _text("Why, in a sentence for people.", 2000)
HEAD_SHA = {
    "type": "string",
    "pattern": SHA_PATTERN,
    "description": "The PR head commit this decision is about (default: the one approval was requested for).",
}

STACK = {
    "type": "boolean",
    "description": "false: a dependency in the same repository and base is not stacked on (default true): "
    "the workstream's branch is cut from the base, not from the dependency's head.",
}
MERGE_MODE = {
    "type": "string",
    "enum": ["each", "together"],
    "description": "together: a merge train. None of the group merges until every member is approved, "
    "green and mergeable; then all merge in dependency order in one pass (default each).",
}
ON_TRAIN_FAILURE = {
    "type": "string",
    "enum": ["hold", "revert"],
    "description": "When a train stops halfway: hold leaves the rest open (default); revert also opens a "
    "revert PR for each member that merged.",
}
MERGE_GROUP = _id("A named merge train of the task's workstreams: members of a group merge together.")


def _object(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


EVENT_DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    "task_created": _object(
        {
            "title": _text("The task's title.", 500),
            "url": {"type": "string", "pattern": URL_PATTERN},
            "stack": STACK,
            "merge_mode": MERGE_MODE,
            "on_train_failure": ON_TRAIN_FAILURE,
        }
    ),
    "phase_changed": _object({"phase": {"type": "string", "enum": list(PHASES)}}, ("phase",)),
    "workstream_created": _object(
        {
            "workstream_id": WORKSTREAM_ID,
            "spec": SPEC,
            "repo": REPO,
            "branch": BRANCH,
            "dependencies": DEPENDENCIES,
            "title": TITLE,
            "reviewers": REVIEWERS,
            "stack": STACK,
            "merge_group": MERGE_GROUP,
        },
        ("workstream_id", "spec", "repo", "branch", "dependencies"),
    ),
    "workstream_updated": _object(
        {
            "workstream_id": WORKSTREAM_ID,
            "spec": SPEC,
            "title": TITLE,
            "branch": BRANCH,
            "dependencies": DEPENDENCIES,
            "reviewers": REVIEWERS,
            "stack": STACK,
            "merge_group": MERGE_GROUP,
        },
        ("workstream_id",),
    ),
    "workstream_completed": _object({"workstream_id": WORKSTREAM_ID}, ("workstream_id",)),
    "workstream_cancelled": _object({"workstream_id": WORKSTREAM_ID, "reason": REASON}, ("workstream_id",)),
    "approval_granted": _object({"workstream_id": WORKSTREAM_ID, "head_sha": HEAD_SHA}, ("workstream_id",)),
    "approval_denied": _object(
        {"workstream_id": WORKSTREAM_ID, "reason": REASON, "head_sha": HEAD_SHA}, ("workstream_id",)
    ),
    "comment_requested": _object(
        {
            "workstream_id": WORKSTREAM_ID,
            "body": _text("The comment's Markdown.", 60000, 1),
            "request_id": _id(
                "Makes the request idempotent: a second request with this id is not posted again."
            ),
            "in_reply_to": {
                "type": "integer",
                "minimum": 1,
                "description": "An inline review comment's id (from a review_comment notice): the comment is "
                "posted as a reply in that comment's thread instead of in the PR's conversation.",
            },
            "resolve_thread": {
                "type": "boolean",
                "description": "With in_reply_to: resolve the thread once the reply is posted.",
            },
        },
        ("workstream_id", "body"),
    ),
    "task_cancelled": _object({"reason": REASON}),
}
EVENT_TYPES = tuple(EVENT_DATA_SCHEMAS)
WORKSTREAM_EVENT_TYPES = tuple(
    t for t in EVENT_TYPES if "workstream_id" in EVENT_DATA_SCHEMAS[t]["properties"]
)

ENVELOPE_SCHEMA: dict[str, Any] = _object(
    {
        "type": {"type": "string", "enum": list(EVENT_TYPES), "description": "The event type."},
        "data": {"type": "object", "description": "The event's fields; their schema depends on the type."},
        "actor_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "Who caused the event.",
        },
        "expected_version": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "Refuse the event (409) unless the task is still at this version.",
        },
    },
    ("type", "actor_id"),
)

@lru_cache(maxsize=64)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` where a final ``$`` means the end of the text, as in ECMA-262 (JSON Schema's dialect).

    Python's ``$`` also matches before a final newline, so ``"main\\n"`` would pass ``^...$``.
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
_ENVELOPE = _Validator(ENVELOPE_SCHEMA)
_DATA = {name: _Validator(schema) for name, schema in EVENT_DATA_SCHEMAS.items()}


@dataclass(frozen=True, slots=True)
class PodEvent:
    """A validated event as the pod sent it."""

    type: str
    data: dict[str, Any]
    actor_id: str
    expected_version: int | None = None


def _path(prefix: str, parts: Any) -> str:
    names = [prefix] if prefix else []
    names.extend(str(part) for part in parts)
    return ".".join(names)


def _describe(error: ValidationError) -> str:
    """One readable sentence for a schema error (patterns by meaning, not as regexes)."""
    kind = error.validator
    if kind == "pattern":
        return f"must be {PATTERN_HINTS.get(str(error.validator_value), 'in the documented format')}"
    if kind == "type":
        wanted = error.validator_value
        names = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"must be of type {names}"
    if kind == "enum":
        return "must be one of " + ", ".join(str(v) for v in error.validator_value)
    if kind == "minLength":
        if error.validator_value == 1:
            return "must not be empty"
        return f"needs at least {error.validator_value} characters"
    if kind == "maxLength":
        return f"must be at most {error.validator_value} characters long"
    if kind == "maxItems":
        return f"must have at most {error.validator_value} items"
    if kind == "uniqueItems":
        return "must not repeat an item"
    if kind == "minimum":
        return f"must be at least {error.validator_value}"
    return error.message


def _field_errors(validator: Any, document: Any, prefix: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        base = _path(prefix, error.absolute_path)
        if error.validator == "required":
            instance = error.instance if isinstance(error.instance, dict) else {}
            for name in error.validator_value:
                if name not in instance:
                    errors.setdefault(_path(base, [name]), "is required")
        elif error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            instance = error.instance if isinstance(error.instance, dict) else {}
            for name in instance:
                if name not in allowed:
                    errors.setdefault(_path(base, [name]), "is not a known field")
        else:
            errors.setdefault(base or prefix or "body", _describe(error))
    return errors


def validate(body: Any) -> tuple[PodEvent | None, dict[str, str]]:
    """Check a decoded request body; returns the event, or None with field errors."""
    if not isinstance(body, dict):
        return None, {"body": "must be a JSON object"}
    errors = _field_errors(_ENVELOPE, body, "")
    if "type" in errors and isinstance(body.get("type"), str):
        errors["type"] = f"unknown event type {body['type'][:64]!r}; expected one of {', '.join(EVENT_TYPES)}"
    data = body.get("data", {})
    type_ = body.get("type")
    if isinstance(type_, str) and type_ in _DATA and isinstance(data, dict):
        errors.update(_field_errors(_DATA[type_], data, "data"))
    if errors:
        return None, errors
    return PodEvent(
        type=type_,
        data=copy.deepcopy(data),
        actor_id=body["actor_id"],
        expected_version=body.get("expected_version"),
    ), {}


def event_request_schema() -> dict[str, Any]:
    """The request body of ``POST /api/tasks/{task_id}/events``: one variant per event type."""
    variants = []
    envelope_props = ENVELOPE_SCHEMA["properties"]
    for name, data_schema in EVENT_DATA_SCHEMAS.items():
        required = ["type", "actor_id"]
        if data_schema.get("required"):
            required.append("data")
        variants.append(
            {
                "title": name,
                "type": "object",
                "properties": {
                    "type": {"const": name},
                    "data": copy.deepcopy(data_schema),
                    "actor_id": envelope_props["actor_id"],
                    "expected_version": envelope_props["expected_version"],
                },
                "required": required,
                "additionalProperties": False,
            }
        )
    return {"oneOf": variants}
