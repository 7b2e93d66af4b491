"""Hypothesis strategies for the inputs ghapp accepts from outside: webhook deliveries and pod events.

Each strategy mixes well-formed inputs (so examples get past the first
check and reach storage) with the awkward ones a hostile or broken sender
produces: garbage headers, forged signatures, odd content types, bodies at
and over the size cap, wrong JSON types, unicode that databases choke on,
huge strings and deep nesting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ghapp.pod import events
from ghapp.webhook_sender import hub_signature

# ---------------------------------------------------------------------------------------------
# Shared building blocks
# ---------------------------------------------------------------------------------------------

# Characters an HTTP header can carry (latin-1, no controls), for garbage header values.
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    min_size=1,
    max_size=80,
).filter(lambda value: value == value.strip())

# Strings that have broken storage layers before: NUL, lone surrogates, RTL overrides,
# emoji, combining marks, a byte order mark, and the long ones.
AWKWARD_STRINGS = st.sampled_from(
    [
        "",
        "\x00",
        "nul\x00inside",
        "\ud800",
        "low \udc00 alone",
        "\ud83d\ude80 paired surrogates spelled out",
        "\u202eevil right-to-left override",
        "שלום عربى mixed RTL",
        "🚀🔥👩‍👩‍👧‍👦",
        "e\u0301\u0301\u0301 combining",
        "\ufeffbom",
        "line\nbreak",
        "api\n",
        "tab\there",
        "x" * 70_000,
        "é" * 40_000,
    ]
)
ANY_TEXT = st.one_of(st.text(max_size=60), AWKWARD_STRINGS)

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    ANY_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)

# ---------------------------------------------------------------------------------------------
# Webhook deliveries
# ---------------------------------------------------------------------------------------------

SIGNATURE_KINDS = (
    "valid",
    "valid-old-secret",
    "missing",
    "empty",
    "other-secret",
    "truncated",
    "sha1",
    "uppercase-prefix",
    "uppercase-hex",
    "no-prefix",
    "garbage",
    "non-ascii",
    "valid-for-other-body",
)


@dataclass(frozen=True)
class Delivery:
    """One generated POST to the webhook endpoint, with the facts the oracle needs."""

    body: bytes
    headers: dict[str, str]
    signature_kind: str
    notes: dict[str, Any] = field(default_factory=dict)


def _signature(kind: str, body: bytes, secrets: tuple[str, ...], other: str, draw: Any) -> str | None:
    good = hub_signature(secrets[0], body)
    if kind == "valid":
        return good
    if kind == "valid-old-secret":
        return hub_signature(secrets[-1], body)
    if kind == "missing":
        return None
    if kind == "empty":
        return ""
    if kind == "other-secret":
        return hub_signature(other, body)
    if kind == "truncated":
        return good[: draw(st.integers(min_value=0, max_value=len(good) - 1))]
    if kind == "sha1":
        return "sha1=" + hmac.new(secrets[0].encode(), body, hashlib.sha1).hexdigest()
    if kind == "uppercase-prefix":
        return "SHA256=" + good.split("=", 1)[1]
    if kind == "uppercase-hex":
        return "sha256=" + good.split("=", 1)[1].upper()
    if kind == "no-prefix":
        return good.split("=", 1)[1]
    if kind == "non-ascii":
        return good[:20] + "é" + good[21:]
    if kind == "valid-for-other-body":
        return hub_signature(secrets[0], body + b" ")
    return draw(HEADER_TEXT)


def _token_header(draw: Any, valid: st.SearchStrategy[str]) -> str | None:
    """A header that is mostly well formed, sometimes missing, empty or garbage."""
    broken = st.one_of(st.none(), st.just(""), HEADER_TEXT, st.text(alphabet="abc-", min_size=65, max_size=70))
    return draw(valid) if draw(st.integers(min_value=0, max_value=5)) else draw(broken)


GUIDS = st.one_of(st.uuids().map(str), st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True))
EVENT_NAMES = st.one_of(
    st.sampled_from(["pull_request", "pull_request_review", "issue_comment", "check_suite"]),
    st.just("ping"),
    st.from_regex(r"[a-z_]{1,30}", fullmatch=True),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/jsonx",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        None,
    ]
)


def _json_body(draw: Any) -> bytes:
    payload = draw(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5))
    payload.setdefault("action", draw(st.sampled_from(["opened", "closed", "submitted", "created", "zen"])))
    return json.dumps(payload).encode("utf-8", "surrogatepass")


@st.composite
def webhook_bodies(draw: Any, cap: int) -> bytes:
    """Random bytes, JSON of random shape, form-encoded payloads, empty, and sizes around ``cap``."""
    kind = draw(st.sampled_from(["json", "json", "form", "bytes", "empty", "around-cap", "zen"]))
    if kind == "json":
        return _json_body(draw)
    if kind == "form":
        return ("payload=" + urllib.parse.quote(_json_body(draw).decode("utf-8", "surrogatepass"))).encode()
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=300))
    if kind == "empty":
        return b""
    if kind == "zen":
        return json.dumps({"zen": draw(st.text(max_size=30)), "hook_id": 1}).encode("utf-8", "surrogatepass")
    size = draw(st.sampled_from([cap - 1, cap, cap + 1, cap * 3]))
    filler = draw(st.sampled_from([b"x", b"{", b"\x00", b"\xff"]))
    return filler * size


def explicit_deliveries(secrets: tuple[str, ...], other_secret: str, cap: int) -> list[Delivery]:
    """A delivery for every signature kind and every kind of answer, built without hypothesis.

    Run as explicit examples, so each is checked whatever sequence the
    generator happens to draw (it differs between a lone run and a full suite).
    """
    body = b'{"action": "opened", "zen": "Keep it logically awesome."}'
    fixed = {"truncated": hub_signature(secrets[0], body)[:30], "garbage": "not a signature"}

    def delivery(kind: str, name: str, payload: bytes = body, **changes: str | None) -> Delivery:
        signature = fixed[kind] if kind in fixed else _signature(kind, payload, secrets, other_secret, draw=None)
        headers: dict[str, str | None] = {
            "X-Hub-Signature-256": signature, "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": f"explicit-{name}", "Content-Type": "application/json", **changes,
        }
        return Delivery(body=payload, headers={k: v for k, v in headers.items() if v is not None},
                        signature_kind=kind)

    found = [delivery(kind, kind) for kind in SIGNATURE_KINDS]
    found.append(delivery("valid", "ping", **{"X-GitHub-Event": "ping"}))  # 200
    found.append(delivery("valid", "no-event", **{"X-GitHub-Event": None}))  # 400
    found.append(delivery("valid", "over-the-cap", payload=b"{" + b" " * cap + b"}"))  # 413
    found.append(delivery("valid", "plain-text", **{"Content-Type": "text/plain"}))  # 415
    return found


@st.composite
def deliveries(draw: Any, secrets: tuple[str, ...], other_secret: str, cap: int) -> Delivery:
    """A whole POST: body, the three GitHub headers (each possibly broken) and a content type."""
    body = draw(webhook_bodies(cap))
    # Half the examples are correctly signed, so they get past the signature to the later checks.
    kind = draw(st.sampled_from(SIGNATURE_KINDS[:2] * 6 + SIGNATURE_KINDS[2:]))
    headers: dict[str, str] = {}
    signature = _signature(kind, body, secrets, other_secret, draw)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    event = _token_header(draw, EVENT_NAMES)
    if event is not None:
        headers["X-GitHub-Event"] = event
    guid = _token_header(draw, GUIDS)
    if guid is not None:
        headers["X-GitHub-Delivery"] = guid
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return Delivery(body=body, headers=headers, signature_kind=kind)


# ---------------------------------------------------------------------------------------------
# Pod events
# ---------------------------------------------------------------------------------------------

KNOWN_WORKSTREAMS = ("api", "web")
KNOWN_IDS = st.sampled_from(KNOWN_WORKSTREAMS)
IDS = st.one_of(KNOWN_IDS, KNOWN_IDS, st.from_regex(events.ID_PATTERN, fullmatch=True))
SHAS = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)


def _valid_data(type_: str) -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid ``data`` for ``type_`` (it may still be refused by the task's rules)."""
    text = st.text(min_size=1, max_size=40)
    repo = st.sampled_from(["octo/api", "acme/web", "a/b.c", "x-y/z_z"])
    branch = st.sampled_from(["main", "release/1.0", "feature_x"])
    deps = st.lists(IDS, max_size=3, unique=True)
    reviewers = st.lists(st.from_regex(events.LOGIN_PATTERN, fullmatch=True), max_size=2, unique=True)
    ws = IDS
    required: dict[str, st.SearchStrategy[Any]]
    optional: dict[str, st.SearchStrategy[Any]]
    if type_ == "task_created":
        required, optional = {}, {"title": text, "url": st.just("https://pod.example/t/1")}
    elif type_ == "phase_changed":
        required, optional = {"phase": st.sampled_from(events.PHASES)}, {}
    elif type_ == "workstream_created":
        required = {"workstream_id": ws, "spec": text, "repo": repo, "branch": branch, "dependencies": deps}
        optional = {"title": text, "reviewers": reviewers}
    elif type_ == "workstream_updated":
        required = {"workstream_id": ws}
        optional = {"spec": text, "title": text, "branch": branch, "dependencies": deps, "reviewers": reviewers}
    elif type_ in ("workstream_completed",):
        required, optional = {"workstream_id": ws}, {}
    elif type_ in ("workstream_cancelled",):
        required, optional = {"workstream_id": ws}, {"reason": text}
    elif type_ == "approval_granted":
        required, optional = {"workstream_id": ws}, {"head_sha": SHAS}
    elif type_ == "approval_denied":
        required, optional = {"workstream_id": ws}, {"reason": text, "head_sha": SHAS}
    elif type_ == "comment_requested":
        required, optional = {"workstream_id": ws, "body": text}, {"request_id": IDS}
    else:  # task_cancelled
        required, optional = {}, {"reason": text}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def _mutated(draw: Any, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with one thing broken: a field dropped, added, retyped or made awkward."""
    original = document.get("data")
    data = dict(original) if isinstance(original, dict) else {}
    how = draw(st.sampled_from(["drop", "extra", "retype", "awkward", "envelope-extra", "retype-envelope"]))
    if how == "drop" and data:
        data.pop(draw(st.sampled_from(sorted(data))))
    elif how == "extra":
        data[draw(st.text(max_size=10))] = draw(JSON_VALUES)
    elif how == "retype" and data:
        data[draw(st.sampled_from(sorted(data)))] = draw(JSON_VALUES)
    elif how == "awkward":
        name = draw(st.sampled_from(sorted(data) or ["title"]))
        data[name] = draw(AWKWARD_STRINGS)
    elif how == "envelope-extra":
        document = {**document, draw(st.text(max_size=10)): draw(JSON_VALUES)}
    else:
        document = {**document, draw(st.sampled_from(["type", "actor_id", "data"])): draw(JSON_VALUES)}
    return {**document, "data": data} if "data" in document and how != "retype-envelope" else document


EXPECTED_VERSIONS = st.one_of(
    st.none(),
    st.integers(min_value=-3, max_value=6),
    st.integers(min_value=2**31, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


def _mostly(draw: Any, usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], percent: int = 75) -> Any:
    """A draw from ``usual`` ``percent`` % of the time, else from ``odd`` (so valid events stay common)."""
    return draw(usual) if draw(st.integers(min_value=0, max_value=99)) < percent else draw(odd)


@st.composite
def pod_documents(draw: Any) -> dict[str, Any]:
    """A pod event as a JSON object: valid, mutated, or with an unknown or mistyped ``type``."""
    type_choice = _mostly(draw, st.sampled_from(events.EVENT_TYPES), st.one_of(st.text(max_size=20), JSON_LEAVES))
    if isinstance(type_choice, str) and type_choice in events.EVENT_TYPES:
        data: Any = draw(_valid_data(type_choice))
    else:
        data = draw(st.one_of(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4), JSON_VALUES))
    document: dict[str, Any] = {
        "type": type_choice,
        "data": data,
        "actor_id": _mostly(draw, st.sampled_from(["pod", "agent-7", "🚀 bot", "שלום"]), st.one_of(ANY_TEXT,
                            JSON_LEAVES)),
    }
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        document["expected_version"] = _mostly(draw, st.sampled_from([None, 3]), EXPECTED_VERSIONS, 40)
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        document = draw(_mutated(document))
    return document


def deep_nesting(levels: int, opener: str) -> str:
    """JSON text nested ``levels`` deep (built as text: json.dumps would itself hit the recursion limit)."""
    if opener == "[":
        return "[" * levels + "]" * levels
    return '{"a":' * levels + "1" + "}" * levels


POD_CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", None, "Application/JSON; charset=utf-8")


@dataclass(frozen=True)
class PodRequest:
    """One generated POST to the pod API."""

    task_path: str  # as put in the URL (already percent-encoded)
    task_id: str | None  # the decoded id when it is a valid task id, else None
    body: bytes
    content_type: str | None
    document: Any  # what the body decodes to, when it is JSON the server can decode; else None
    shape: str


def encode(document: Any, ascii_only: bool) -> bytes:
    """JSON text of ``document``; ``ascii_only`` spells every non-ASCII character, surrogates included, as escapes."""
    if ascii_only:
        return json.dumps(document, ensure_ascii=True).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def pod_requests(draw: Any, fresh_task_id: str) -> PodRequest:
    """A POST: mostly a well-formed event for ``fresh_task_id``, else broken bodies, ids or content types."""
    shape = draw(
        st.sampled_from(
            ["event"] * 6 + ["deep", "not-object", "not-json", "huge", "bad-task-id", "content-type"]
        )
    )
    task_path, task_id = fresh_task_id, fresh_task_id
    content_type: str | None = "application/json"
    document: Any = draw(pod_documents())
    body = encode(document, ascii_only=draw(st.booleans()))
    if shape == "deep":
        levels = draw(st.sampled_from([100, 999, 1000, 5000]))
        nested = deep_nesting(levels, draw(st.sampled_from(["[", "{"])))
        body = ('{"type":"task_created","actor_id":"pod","data":{"title":' + nested + "}}").encode()
        document = None
    elif shape == "not-object":
        document = draw(st.one_of(st.lists(JSON_LEAVES, max_size=3), JSON_LEAVES))
        body = encode(document, ascii_only=True)
    elif shape == "not-json":
        body = draw(st.one_of(st.binary(max_size=200), st.just(b""), st.just(b"{"), st.just(b'{"type": NaN}')))
        document = None
    elif shape == "huge":
        size = draw(st.sampled_from([60_001, 1024 * 1024 + 1]))
        document = {"type": "task_created", "actor_id": "pod", "data": {"title": "t" * size}}
        body = encode(document, ascii_only=True)
    elif shape == "bad-task-id":
        raw = draw(st.one_of(st.text(min_size=1, max_size=30), st.just("a" * 101), st.just("task\n"),
                             st.just("../etc"), st.just("t\x00"), st.just("🚀")))
        task_path = urllib.parse.quote(raw, safe="")
        task_id = raw if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", raw) else None
    elif shape == "content-type":
        content_type = draw(st.sampled_from(POD_CONTENT_TYPES))
    return PodRequest(
        task_path=task_path, task_id=task_id, body=body, content_type=content_type, document=document, shape=shape
    )

