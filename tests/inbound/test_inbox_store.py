"""The inbox and installations store helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from ghapp.store import inbox, installations
from ghapp.store.engine import make_engine
from ghapp.store.schema import inbox as inbox_table


@pytest.fixture
def engine(database_url):  # type: ignore[no-untyped-def]
    built = make_engine(database_url)
    yield built
    built.dispose()


def test_store_load_mark_and_list(engine):
    with engine.begin() as conn:
        assert inbox.store(conn, "g1", "pull_request", b'{"action":"opened"}') is True
        assert inbox.store(conn, "g1", "pull_request", b"{}") is False
        assert inbox.store(conn, "g2", "push", b"{}") is True
    with engine.begin() as conn:
        inbox.mark(conn, "g1", "failed", "boom " * 1000, action="opened", installation_id=42)
        inbox.mark(conn, "g1", "processed")
    with engine.connect() as conn:
        row = inbox.load(conn, "g1")
        assert (row.status, row.attempts, row.action, row.installation_id) == ("processed", 2, "opened", 42)
        assert row.processed_at is not None
        assert inbox.raw_body(row) == b'{"action":"opened"}'
        assert inbox.exists(conn, "g2") and not inbox.exists(conn, "nope")
        assert inbox.load(conn, "nope") is None
        recent = inbox.recent(conn, 10)
        assert {r["guid"] for r in recent} == {"g1", "g2"}
        assert all("body" not in r for r in recent)
        assert inbox.counts_by_status(conn) == {"processed": 1, "pending": 1}


def test_pending_guids_skips_fresh_rows(engine):
    with engine.begin() as conn:
        inbox.store(conn, "old", "push", b"{}")
        inbox.store(conn, "new", "push", b"{}")
        inbox.store(conn, "done", "push", b"{}")
        inbox.mark(conn, "done", "processed")
        long_ago = datetime.now(UTC) - timedelta(minutes=5)
        conn.execute(
            update(inbox_table).where(inbox_table.c.guid.in_(["old", "done"])).values(received_at=long_ago)
        )
    with engine.connect() as conn:
        assert inbox.pending_guids(conn, older_than_s=30) == ["old"]
        assert sorted(inbox.pending_guids(conn, older_than_s=0)) == ["new", "old"]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"a": 1}).encode(),
        b"  \n" + json.dumps({"a": 1}).encode(),
        urllib.parse.urlencode({"payload": json.dumps({"a": 1})}).encode(),
    ],
)
def test_decode_payload_reads_json_and_form_bodies(body):
    assert inbox.decode_payload(SimpleNamespace(body=body)) == {"a": 1}


@pytest.mark.parametrize("body", [b"other=1", b"[1]", b"{not json"])
def test_decode_payload_refuses_what_is_not_a_payload(body):
    with pytest.raises(ValueError):
        inbox.decode_payload(SimpleNamespace(body=body))


def test_installations_and_app_state(engine):
    with engine.begin() as conn:
        installations.save_installation(conn, 7, account="octo")
        installations.add_repos(conn, 7, ["octo/api", "octo/web"])
        installations.set_installation_status(conn, 7, "suspended")
        assert installations.set_installation_repos_accessible(conn, 7, False) == ["octo/api", "octo/web"]
        installations.add_repos(conn, 7, ["octo/api"])
        installations.remove_repos(conn, ["octo/web"])
        installations.set_state(conn, "sweep", {"interval": 300})
        installations.set_state(conn, "sweep", {"interval": 600, "why": "quiet"})
    with engine.connect() as conn:
        row = installations.get_installation(conn, 7)
        assert (row.account, row.status) == ("octo", "suspended")
        assert installations.repo_access(conn, "octo/api").accessible is True
        assert installations.repo_access(conn, "octo/web").accessible is False
        assert installations.repo_access(conn, "octo/none") is None
        assert installations.get_state(conn, "sweep") == {"interval": 600, "why": "quiet"}
        assert installations.get_state(conn, "missing", default=1) == 1
        assert [r.installation_id for r in installations.list_installations(conn)] == [7]
    with pytest.raises(ValueError), engine.begin() as conn:
        installations.save_installation(conn, 8, account="x", status="sleeping")


def test_bodies_are_stored_compressed_and_read_back_exactly():
    body = json.dumps({"action": "opened", "repository": {"url": "https://api.github.com/repos/o/r"} }).encode() * 40
    stored = inbox.stored_body(body)
    assert len(stored) < len(body) / 5
    assert inbox.raw_body(SimpleNamespace(body=stored, body_encoding="zstd")) == body
    assert inbox.raw_body(SimpleNamespace(body=body, body_encoding="identity")) == body
    assert inbox.raw_body(SimpleNamespace(body=body)) == body  # no encoding column: as received


def test_a_body_in_an_unknown_encoding_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="unknown encoding 'br'"):
        inbox.raw_body(SimpleNamespace(body=b"...", body_encoding="br"))


def test_a_redelivery_keeps_the_first_row(engine):
    """The one INSERT reports whether it stored the delivery; a GUID already there keeps its first body."""
    body = b'{"action":"edited","number":7}'
    with engine.begin() as conn:
        assert inbox.store(conn, "first", "pull_request", body) is True
        assert inbox.store(conn, "first", "pull_request", b"{}") is False
    with engine.connect() as conn:
        row = inbox.load(conn, "first")
    assert inbox.raw_body(row) == body and row.status == "pending" and row.attempts == 0


def test_prune_deletes_only_finished_deliveries_received_before_the_cutoff(engine):
    """Processed and ignored rows received before the cutoff go, at most ``limit`` at a time;
    pending and failed rows stay whatever their age (recovery and the operator need them)."""
    now = datetime.now(UTC)
    ages = {"old-processed-1": ("processed", 10), "old-processed-2": ("processed", 9), "old-ignored": ("ignored", 8),
            "old-pending": ("pending", 10), "old-failed": ("failed", 10), "new-processed": ("processed", 1)}
    with engine.begin() as conn:
        for guid, (status, days) in ages.items():
            inbox.store(conn, guid, "push", b"{}")
            if status != "pending":
                inbox.mark(conn, guid, status)
            conn.execute(update(inbox_table).where(inbox_table.c.guid == guid)
                         .values(received_at=now - timedelta(days=days)))
    cutoff = now - timedelta(days=7)
    with engine.begin() as conn:
        assert inbox.prune(conn, received_before=cutoff, limit=2) == 2
    with engine.begin() as conn:
        assert inbox.prune(conn, received_before=cutoff, limit=2) == 1
        assert inbox.prune(conn, received_before=cutoff, limit=2) == 0
    with engine.connect() as conn:
        left = {guid for guid in ages if inbox.exists(conn, guid)}
    assert left == {"old-pending", "old-failed", "new-processed"}
