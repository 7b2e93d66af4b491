"""The walking skeleton's endpoints over a real database and Redis."""

from __future__ import annotations

from ghapp.runtime import Runtime
from ghapp.web import create_app


def test_ping_answers_pong(make_settings):
    client = create_app(runtime=Runtime(make_settings())).test_client()
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.data == b"PONG"


def test_healthz_ok_when_database_and_redis_answer(make_settings):
    client = create_app(runtime=Runtime(make_settings())).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_names_redis_when_it_is_down(make_settings):
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    client = create_app(runtime=Runtime(settings)).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"


def test_healthz_names_database_when_it_is_down(make_settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings = make_settings(database_url=f"sqlite:///{blocker}/db.sqlite3")
    client = create_app(runtime=Runtime(settings)).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["database"]
