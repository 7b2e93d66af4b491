"""GitHub's page-number pagination: ``per_page`` (default 30, at most 100), ``page``, and the ``Link`` header."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def page_params(args: Mapping[str, str]) -> tuple[int, int]:
    """``(page, per_page)`` from query arguments, clamped as GitHub does."""
    per_page = min(max(_int(args.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int(args.get("page"), 1), 1)
    return page, per_page


def paginate(items: Sequence[T], page: int, per_page: int) -> list[T]:
    start = (page - 1) * per_page
    return list(items[start : start + per_page])


def link_header(base_url: str, args: Mapping[str, str], total: int, page: int, per_page: int) -> str | None:
    """The ``Link`` header with ``prev``, ``next``, ``last`` and ``first`` as GitHub sends them (or None)."""
    last = max((total + per_page - 1) // per_page, 1)
    if last == 1 and page == 1:
        return None

    def url(number: int) -> str:
        query = {k: v for k, v in args.items() if k not in ("page", "per_page")}
        query.update({"per_page": str(per_page), "page": str(number)})
        return f"{base_url}?{urlencode(query)}"

    parts = []
    if page > 1:
        parts.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        parts.append(f'<{url(page + 1)}>; rel="next"')
        parts.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        parts.append(f'<{url(1)}>; rel="first"')
    return ", ".join(parts) if parts else None
