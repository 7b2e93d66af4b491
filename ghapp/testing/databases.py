"""Throwaway databases for tests, benchmarks and the chaos scenario."""

from __future__ import annotations

import uuid
from collections.abc import Callable


def postgres_schema(base_url: str, prefix: str = "t_") -> tuple[str, Callable[[], None]]:
    """A new, empty schema in the PostgreSQL at ``base_url``: a URL that uses it, and how to drop it.

    The URL sets ``search_path`` to the schema, so every table ghapp creates
    or reads through it lives there, apart from other runs on the same server.
    """
    from sqlalchemy import create_engine, text

    from ghapp.config import normalise_database_url

    schema = prefix + uuid.uuid4().hex[:12]
    base = normalise_database_url(base_url)

    def run(sql: str) -> None:
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text(sql))
        engine.dispose()

    run(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    return url, lambda: run(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
