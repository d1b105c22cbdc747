"""The interactive docs render in a real browser with no internet: Swagger UI and ReDoc.

Headless Chromium (Debian's package, installed by ``make test``) opens ``/`` of a live
server, with every request to another host aborted, and finds the rendered list of
operations on both pages. A missing browser fails the test: it is never skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from carevault.api.app import create_app
from tests.api.conftest import Api
from tests.api.served import Served

CHROMIUM = "/usr/bin/chromium"
FLAGS = (  # as root, with no network beyond this machine: no sandbox, no background calls
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DEADLINE_MS = 60_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert shutil.which("chromium") or shutil.which(CHROMIUM), (
        "Chromium is missing: `make test` installs Debian's chromium package"
    )
    with sync_playwright() as p:
        opened = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(FLAGS))
        yield opened
        opened.close()


def _offline(page: Page, origin: str, elsewhere: list[str]) -> None:
    """Abort every request that leaves the server under test (and note where it went)."""

    def route(r: Route) -> None:
        url = urlparse(r.request.url)
        if f"{url.scheme}://{url.netloc}" == origin:
            r.continue_()
        else:
            elsewhere.append(url.netloc)
            r.abort()

    page.route("**/*", route)


def test_swagger_ui_and_redoc_render_the_operations_offline(
    sqlite_api: Api, browser: Browser
) -> None:
    with Served(create_app(sqlite_api.rt)) as served:
        operations = len(sqlite_api.client.get("/api/v1/openapi.json").json()["paths"])
        assert operations > 30
        page = browser.new_page()
        page.set_default_timeout(DEADLINE_MS)
        elsewhere: list[str] = []
        _offline(page, served.url, elsewhere)
        page.goto(f"{served.url}/")  # the root redirects to Swagger UI
        assert page.url == f"{served.url}/api/v1/docs"
        page.wait_for_selector(".opblock-summary-path")
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/v1/patients/{patient_id}" in [p.replace("\u200b", "") for p in paths]
        assert len(paths) > operations  # every operation of every path is listed
        page.goto(f"{served.url}/redoc")
        assert page.url == f"{served.url}/api/v1/redoc"
        page.wait_for_selector("[data-section-id^='tag/']")
        listed = page.locator("[data-section-id*='/operation/']").count()
        assert listed > operations, listed  # one rendered section per operation
        assert "Register a patient" in page.content()
        assert elsewhere == []  # nothing was fetched from another host
