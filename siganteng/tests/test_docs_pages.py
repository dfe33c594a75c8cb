"""The API docs pages (Swagger UI and ReDoc) render offline: every asset is the app's own.

Seeds 000 and 004 document them at ``/docs`` and ``/redoc``; ``/api/docs/`` and
``/api/redoc/`` serve the same pages.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from siganteng.testing import chromium, screenshot, wait_until

DOCS_PAGES = ["/docs", "/redoc", "/api/docs/", "/api/redoc/"]


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_it_serves_the_docs_pages_with_no_asset_from_elsewhere(path):
    resp = Client().get(path)
    assert resp.status_code == 200
    html = resp.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, html
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "cdn." not in html and "@latest" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("path, name", [("/docs", "swagger"), ("/redoc", "redoc")])
def test_the_docs_pages_show_the_operations_in_a_browser(live_server, tmp_path, path, name):
    with chromium(tmp_path) as browser:
        browser.get(live_server.url + path)

        def operations_shown() -> bool:
            text = browser.find_element("tag name", "body").text
            return "/api/v1/chat" in text and "/api/v1/jobs/" in text

        wait_until(operations_shown, timeout=30, message=f"the operations on {path}")
        screenshot(browser, f"docs-{name}")
        # ReDoc's footer logo is the one outside address the page names; the page's
        # Content-Security-Policy refuses it (the logo hides itself) instead of fetching it.
        logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(live_server.url) for url in loaded if url != logo), loaded
        log = browser.get_log("browser")
        if logo in loaded:
            assert any(logo in e["message"] and "Content Security Policy" in e["message"] for e in log), log
        errors = [e for e in log if e["level"] == "SEVERE" and logo not in e["message"]]
        assert not errors, errors
