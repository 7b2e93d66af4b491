"""STATUS_TOKEN guards the operator's pages over real HTTP, and only those."""

from __future__ import annotations

import pytest
import requests
from ops_seed import STATUS_TOKEN

PROTECTED = ["/", "/rq/", "/metrics", "/setup"]


@pytest.fixture
def guarded(ops_app, serve):  # type: ignore[no-untyped-def]
    return serve(ops_app(status_token=STATUS_TOKEN))


@pytest.mark.parametrize("path", PROTECTED)
def test_without_credentials_the_page_asks_for_them(guarded, path):
    response = requests.get(guarded.url + path, timeout=10, allow_redirects=False)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="ghapp"'
    assert STATUS_TOKEN not in response.text


@pytest.mark.parametrize("path", PROTECTED)
def test_a_wrong_password_is_refused(guarded, path):
    response = requests.get(guarded.url + path, auth=("ops", STATUS_TOKEN + "x"), timeout=10)
    assert response.status_code == 401


@pytest.mark.parametrize("path", PROTECTED)
def test_the_token_as_password_opens_the_page_whatever_the_user_name(guarded, path):
    for user in ("ops", "", "prometheus"):
        response = requests.get(guarded.url + path, auth=(user, STATUS_TOKEN), timeout=10)
        assert response.status_code == 200, (path, user, response.text[:200])
        assert STATUS_TOKEN not in response.text


def test_rq_dashboard_assets_and_json_are_guarded_too(guarded):
    import operator

    guarded.runtime.queue.enqueue(operator.add, 1, 2)
    for path in ("/rq/0/data/queues.json", "/rq/static/css/main.css"):
        assert requests.get(guarded.url + path, timeout=10).status_code == 401, path
        assert requests.get(guarded.url + path, auth=("x", STATUS_TOKEN), timeout=10).status_code == 200, path
    queues = requests.get(guarded.url + "/rq/0/data/queues.json", auth=("x", STATUS_TOKEN), timeout=10).json()
    assert {q["name"]: q["count"] for q in queues["queues"]} == {"ghapp": 1}
    page = requests.get(guarded.url + "/rq/", auth=("x", STATUS_TOKEN), timeout=10).text
    assert "/rq/static/css/main.css" in page  # rq-dashboard's own page, served under /rq


def test_bearer_credentials_do_not_count(guarded):
    response = requests.get(guarded.url + "/", headers={"Authorization": f"Bearer {STATUS_TOKEN}"}, timeout=10)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/ping", "/healthz"])
def test_health_endpoints_stay_open(guarded, path):
    assert requests.get(guarded.url + path, timeout=10).status_code == 200


def test_without_a_token_the_pages_are_open_and_say_how_to_close_them(ops_app, serve):
    served = serve(ops_app(status_token=None))
    for path in PROTECTED:
        assert requests.get(served.url + path, timeout=10).status_code == 200, path
    page = requests.get(served.url + "/", timeout=10).text
    assert "set STATUS_TOKEN to protect this page" in page


def test_with_a_token_the_footer_says_the_page_is_protected(guarded):
    page = requests.get(guarded.url + "/", auth=("ops", STATUS_TOKEN), timeout=10).text
    assert "protected by STATUS_TOKEN" in page
    assert "set STATUS_TOKEN to protect this page" not in page
