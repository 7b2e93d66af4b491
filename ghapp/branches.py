"""The branch ghapp owns for each workstream, named the same by the pod layer (which records it)
and the sync (which creates it)."""

from __future__ import annotations

import hashlib
import re

HEAD_PREFIX = "ghapp"
_REF_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_DOT_RUN = re.compile(r"\.{2,}")
_MAX_SEGMENT = 100


def _ref_segment(raw: str) -> str:
    """One path component of a branch name that git and GitHub both accept.

    Only ``[A-Za-z0-9._-]`` is kept; anything else, a ``..``, a leading dot or
    dash, a trailing dot or ``.lock`` is rewritten. A rewritten (or over-long)
    component gets a short digest of the original so that two different ids can
    never end up on the same branch.
    """
    cleaned = _REF_UNSAFE.sub("-", raw)
    cleaned = _DOT_RUN.sub(".", cleaned).strip(".-")
    if cleaned.endswith(".lock"):
        cleaned = cleaned[: -len(".lock")]
    if cleaned == raw and 0 < len(raw) <= _MAX_SEGMENT:
        return raw
    digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    stem = cleaned[:80].rstrip(".-")
    return f"{stem}-{digest}" if stem else digest


def head_branch(task_id: str, workstream_id: str) -> str:
    """The head branch ghapp owns for one workstream: ``ghapp/<task>/<workstream>``."""
    return f"{HEAD_PREFIX}/{_ref_segment(task_id)}/{_ref_segment(workstream_id)}"
