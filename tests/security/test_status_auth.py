"""With STATUS_TOKEN set, the operator's pages are closed to anyone without it."""

from __future__ import annotations

import pytest

from security.conftest import STATUS_TOKEN

PAGES = ["/", "/rq/", "/metrics"]


@pytest.mark.parametrize("page", PAGES)
def test_operator_pages_need_the_status_token(serve, http, page):
    base, _ = serve(status_token=STATUS_TOKEN)
    anonymous = http.get(base + page, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = http.get(base + page, auth=("ops", "not-the-token"), timeout=30)
    assert wrong.status_code == 401
    bearer = http.get(base + page, headers={"Authorization": f"Bearer {STATUS_TOKEN}"}, timeout=30)
    assert bearer.status_code == 401
    for refused in (anonymous, wrong, bearer):
        assert STATUS_TOKEN not in refused.text
    allowed = http.get(base + page, auth=("ops", STATUS_TOKEN), timeout=30)
    assert allowed.status_code == 200, allowed.text[:300]


def test_health_and_webhooks_stay_reachable_without_the_token(serve, http):
    """The token closes the operator's pages only: GitHub and load balancers do not know it."""
    base, _ = serve(status_token=STATUS_TOKEN)
    assert http.get(base + "/ping", timeout=30).status_code == 200
    assert http.get(base + "/healthz", timeout=30).status_code == 200
    assert http.post(base + "/api/github/webhooks", data=b"{}", timeout=30).status_code == 401  # its own auth
    assert "X-Hub-Signature-256" in http.post(base + "/api/github/webhooks", data=b"{}", timeout=30).text
