"""The front doors: ``/`` for people and ``/api/v1/`` for clients."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import resolve

from siganteng.testing import chromium, screenshot

pytestmark = pytest.mark.django_db


def test_the_landing_page_links_to_docs_admin_health_and_the_playground():
    resp = Client().get("/")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/html")
    links = re.findall(r'href="([^"]+)"', resp.content.decode())
    assert {"/docs", "/redoc", "/admin/", "/healthz", "/playground/", "/api/v1/"} <= set(links)
    for link in links:  # every link leads somewhere (a login redirect counts)
        assert Client().get(link).status_code in (200, 302, 503), link


def test_the_api_root_lists_every_resource_at_a_real_route():
    resp = Client().get("/api/v1/")
    assert resp.status_code == 200
    body = resp.json()
    assert {"chat", "conversations", "kb_documents", "jobs", "followups", "models"} <= set(body["resources"])
    for url in [*body["resources"].values(), body["docs"], body["schema"]]:
        resolve(urlsplit(url).path)
    assert body["templates"]["tenant_settings"].endswith("/api/v1/tenants/{tenant_id}/settings")
    # Listing routes is open; the routes themselves still need a key.
    assert Client().get(urlsplit(body["resources"]["conversations"]).path).status_code == 401


def test_the_landing_page_reads_well_in_a_browser(live_server, tmp_path):
    with chromium(tmp_path, height=700) as browser:
        browser.get(live_server.url + "/")
        assert "SIGANTENG" in browser.title
        text = browser.find_element("tag name", "body").text
        assert "API docs (Swagger UI)" in text and "Agent playground" in text
        screenshot(browser, "landing")
