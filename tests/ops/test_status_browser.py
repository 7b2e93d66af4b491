"""The status page in a real headless chromium: what a person sees, behind basic auth.

CI installs Debian's chromium; where it is missing this test fails with a
message saying so instead of skipping, so a broken setup cannot pass quietly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ops_seed import STATUS_TOKEN, seed_demo, seed_sweep

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.browser


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (CI's .ci/run does)", pytrace=False)
    return path


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def demo(ops_app, serve):  # type: ignore[no-untyped-def]
    served = serve(ops_app(status_token=STATUS_TOKEN, app_id=None, private_key=None))
    seed_demo(served.runtime.engine)
    seed_sweep(served.runtime.engine, {"interval_s": 300, "reason": "default", "last_run": None, "next_run": None})
    return served


def test_the_status_page_in_chromium(browser, demo, tmp_path):
    context = browser.new_context(http_credentials={"username": "ops", "password": STATUS_TOKEN})
    page = context.new_page()
    response = page.goto(demo.url + "/", wait_until="load")
    assert response is not None
    assert response.status == 200
    page.screenshot(path=str(tmp_path / "status.png"), full_page=True)

    assert page.title() == "ghapp status"
    task = page.locator("#task-task-demo-1")
    assert task.locator("h3").inner_text() == "task-demo-1"
    api = page.locator('tr.workstream[data-workstream="ws-api"]')
    assert "acme/backend" in api.inner_text()
    link = api.get_by_role("link", name="#17")
    assert link.get_attribute("href") == "https://github.com/acme/backend/pull/17"
    cells = api.locator("td").all_inner_texts()
    assert cells[3:6] == ["open", "requested", "success"]
    assert "approval_requested" in cells[7]
    assert page.locator('tr.workstream[data-workstream="ws-ui"]').locator("td").nth(2).inner_text() == "none yet"

    assert page.locator("#failures").inner_text() == "Needs a person (3)"
    assert "Reference already exists" in page.locator("#failed-workstreams").inner_text()
    assert "pod answered 500 five times" in page.locator("#failed-notices").inner_text()
    assert "guid-0003" in page.locator("#failed-deliveries").inner_text()
    assert page.locator("#delivery-table tr").count() == 5  # header and four deliveries
    assert "5m" in page.locator("#sweep").inner_text()
    banner = page.locator("#setup-banner")
    assert banner.is_visible()
    assert banner.get_by_role("link").get_attribute("href") == "/setup"
    assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "5"
    assert STATUS_TOKEN not in page.content()
    assert (tmp_path / "status.png").stat().st_size > 10_000
    context.close()


def test_without_credentials_chromium_gets_401(browser, demo):
    context = browser.new_context()
    page = context.new_page()
    assert page.goto(demo.url + "/ping").status == 200  # an open page of the same origin
    answer = page.evaluate(
        """async () => {
            const response = await fetch("/", {credentials: "omit"});
            return {status: response.status, challenge: response.headers.get("www-authenticate"),
                    body: await response.text()};
        }"""
    )
    assert answer["status"] == 401
    assert answer["challenge"] == 'Basic realm="ghapp"'
    assert "task-demo-1" not in answer["body"]
    context.close()
