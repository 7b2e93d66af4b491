"""The OpenAPI 3.1 description of the pod API, served at ``GET /api/openapi.json``.

Event bodies come straight from ``ghapp.pod.events`` (the schemas the API
validates with), so the description cannot drift from the validation.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ghapp.pod import events, queries
from ghapp.pod.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

SIGNED = {"podSignature": [], "podTimestamp": []}
BEARER = {"bearerAuth": []}


def _version() -> str:
    try:
        return version("ghapp")
    except PackageNotFoundError:
        return "0.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What is wrong, in one sentence."}},
    },
    "InvalidEvent": {
        "type": "object",
        "required": ["error", "fields"],
        "properties": {
            "error": {"type": "string", "const": "invalid event"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "One sentence per faulty field, keyed by its dotted path (e.g. data.repo).",
            },
            "current_version": {"type": ["integer", "null"]},
        },
    },
    "Conflict": {
        "type": "object",
        "required": ["error", "current_version"],
        "properties": {
            "error": {"type": "string"},
            "current_version": {"type": ["integer", "null"], "description": "The task's version now."},
        },
    },
    "Appended": {
        "type": "object",
        "required": ["task_id", "version"],
        "properties": {"task_id": {"type": "string"}, "version": {"type": "integer", "minimum": 1}},
    },
    "PullRequest": {
        "type": ["object", "null"],
        "required": ["number", "url", "state", "draft", "head_sha"],
        "properties": {
            "number": {"type": "integer"},
            "url": NULLABLE_STRING,
            "state": {"type": "string", "enum": ["open", "closed", "merged"]},
            "draft": {"type": "boolean"},
            "head_sha": NULLABLE_STRING,
        },
    },
    "LastNotice": {
        "type": ["object", "null"],
        "required": ["version", "type", "created_at"],
        "properties": {
            "version": {"type": "integer"},
            "type": {"type": "string"},
            "created_at": NULLABLE_STRING,
        },
    },
    "Workstream": {
        "type": "object",
        "required": [
            "workstream_id",
            "title",
            "repo",
            "branch",
            "head_branch",
            "dependencies",
            "status",
            "completed",
            "cancelled",
            "pr",
            "approval",
            "checks",
            "last_notice",
        ],
        "properties": {
            "workstream_id": {"type": "string"},
            "title": {"type": "string"},
            "repo": {"type": "string"},
            "branch": {"type": "string", "description": "The base branch."},
            "head_branch": {"type": "string", "description": "The branch ghapp owns for this workstream."},
            "dependencies": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string"},
            "completed": {"type": "boolean"},
            "cancelled": {"type": "boolean"},
            "pr": _ref("PullRequest"),
            "approval": NULLABLE_STRING,
            "checks": NULLABLE_STRING,
            "last_notice": _ref("LastNotice"),
        },
    },
    "Task": {
        "type": "object",
        "required": ["task_id", "title", "url", "phase", "version", "workstreams"],
        "properties": {
            "task_id": {"type": "string"},
            "title": {"type": "string"},
            "url": NULLABLE_STRING,
            "phase": {"type": "string"},
            "version": {"type": "integer", "minimum": 0},
            "workstreams": {"type": "array", "items": _ref("Workstream")},
        },
    },
    "LogEntry": {
        "type": "object",
        "required": ["version", "kind", "type", "data", "actor_id", "created_at"],
        "properties": {
            "version": {"type": "integer", "minimum": 1},
            "kind": {"type": "string", "enum": ["pod", "notice"]},
            "type": {"type": "string"},
            "data": {"type": "object"},
            "actor_id": NULLABLE_STRING,
            "created_at": NULLABLE_STRING,
        },
    },
    "EventsPage": {
        "type": "object",
        "required": ["task_id", "version", "events", "next_after"],
        "properties": {
            "task_id": {"type": "string"},
            "version": {"type": "integer", "description": "The task's version now."},
            "events": {"type": "array", "items": _ref("LogEntry")},
            "next_after": {
                "type": ["integer", "null"],
                "description": "Pass as 'after' for the next page; null when this page reaches the end.",
            },
        },
    },
    "TaskSummary": {
        "type": "object",
        "required": ["task_id", "title", "phase", "version", "updated_at"],
        "properties": {
            "task_id": {"type": "string"},
            "title": {"type": "string"},
            "phase": {"type": "string"},
            "version": {"type": "integer"},
            "updated_at": NULLABLE_STRING,
        },
    },
    "TasksPage": {
        "type": "object",
        "required": ["tasks", "next_cursor"],
        "properties": {
            "tasks": {"type": "array", "items": _ref("TaskSummary")},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as 'cursor' for the next page."},
        },
    },
}

TASK_ID_PARAM = {
    "name": "task_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": events.ID_PATTERN},
    "description": "The pod's task id.",
}


def _limit_param() -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "description": "Entries per page; an empty value means the default.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": queries.MAX_PAGE,
            "default": queries.DEFAULT_PAGE,
        },
    }


READ_ERRORS = {
    "401": _error("Not authenticated: no valid signature or bearer token."),
    "503": _error("The database is unavailable."),
}


def _paths() -> dict[str, Any]:
    return {
        "/api/tasks/{task_id}/events": {
            "parameters": [TASK_ID_PARAM],
            "post": {
                "operationId": "appendEvent",
                "summary": "Append an event to the task's log (the task begins with its first event).",
                "security": [SIGNED],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("PodEvent")}},
                },
                "responses": {
                    "201": _json(_ref("Appended"), "Stored at this version; the syncs are queued."),
                    "400": _error("The body is not a JSON object."),
                    "401": _error("No valid signature."),
                    "409": _json(_ref("Conflict"), "expected_version is stale, or the task is finished."),
                    "413": _error("The body is over 1 MB."),
                    "415": _error("The content type is not application/json."),
                    "422": _json(_ref("InvalidEvent"), "The event is invalid; nothing was stored."),
                    "503": _error("The database is unavailable; nothing was stored."),
                },
            },
            "get": {
                "operationId": "listEvents",
                "summary": "The task's log (pod events and ghapp's notices) in version order.",
                "security": [SIGNED, BEARER],
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "allowEmptyValue": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
                        "description": "Only entries with a greater version (an empty value means 0).",
                    },
                    _limit_param(),
                ],
                "responses": {
                    "200": _json(_ref("EventsPage"), "One page of the log."),
                    "400": _error("A query parameter is malformed."),
                    "404": _error("No such task."),
                    **READ_ERRORS,
                },
            },
        },
        "/api/tasks/{task_id}": {
            "parameters": [TASK_ID_PARAM],
            "get": {
                "operationId": "getTask",
                "summary": "The task's projection: phase, version and each workstream with its PR.",
                "security": [SIGNED, BEARER],
                "responses": {
                    "200": _json(_ref("Task"), "The task."),
                    "404": _error("No such task."),
                    **READ_ERRORS,
                },
            },
        },
        "/api/tasks": {
            "get": {
                "operationId": "listTasks",
                "summary": "Tasks ordered by id, a page at a time.",
                "security": [SIGNED, BEARER],
                "parameters": [
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "allowEmptyValue": True,
                        "schema": {"type": "string", "pattern": events.ID_PATTERN},
                        "description": "The next_cursor of the previous page (empty or absent: the first page).",
                    },
                    _limit_param(),
                ],
                "responses": {
                    "200": _json(_ref("TasksPage"), "One page of tasks."),
                    "400": _error("A query parameter is malformed."),
                    **READ_ERRORS,
                },
            },
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description.",
                "security": [],
                "responses": {
                    "200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}
                },
            }
        },
    }


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    schemas = copy.deepcopy(SCHEMAS)
    schemas["PodEvent"] = events.event_request_schema()
    for name, data_schema in events.EVENT_DATA_SCHEMAS.items():
        schemas[f"{''.join(part.title() for part in name.split('_'))}Data"] = copy.deepcopy(data_schema)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ghapp pod API",
            "version": _version(),
            "description": (
                "The orchestrator (the pod) appends events to a task's log and reads the task and its log, "
                "including ghapp's notices. Writes are signed: "
                f"{TIMESTAMP_HEADER} is the unix time in seconds and {SIGNATURE_HEADER} is "
                "'sha256=' + hex HMAC-SHA256 of '<timestamp>.' + body with the pod secret; a timestamp more "
                "than 5 minutes off is refused. Reads may be signed the same way (empty body) or carry "
                "'Authorization: Bearer <pod secret>'."
            ),
        },
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "podSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "description": "sha256=<hex HMAC-SHA256 of '<timestamp>.' + body with the pod secret>",
                },
                "podTimestamp": {
                    "type": "apiKey",
                    "in": "header",
                    "name": TIMESTAMP_HEADER,
                    "description": "Unix time in seconds, within 5 minutes of the server's clock.",
                },
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The pod secret (reads only).",
                },
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy each call, so callers may change it)."""
    return copy.deepcopy(_document())
