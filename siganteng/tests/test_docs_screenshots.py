"""The screenshots in the documentation are taken from the running app by a real browser.

Chromium (Debian's, driven by Selenium) logs in to the admin and the agent playground of a
live server on the test database with the demo tenant seeded, checks that each page shows
what the docs say it shows, and saves a PNG of it under var/screenshots/. With
``DOCS_SCREENSHOTS=docs/assets/screenshots`` (``make screenshots``) the PNGs are written
where the docs embed them, to be committed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command

from siganteng.testing import BASE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "docs-screenshots-password-0123"


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="siganteng-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _save(driver, name: str) -> Path:
    """Save the visible page as ``name``.png in var/screenshots/ and, when asked, in the docs."""
    target = Path(os.environ.get("DOCS_SCREENSHOTS") or BASE_DIR / "var" / "screenshots")
    if not target.is_absolute():
        target = BASE_DIR / target
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small"
    return path


def test_the_admin_and_the_playground_as_the_docs_show_them(live_server, browser, django_user_model):
    from selenium.webdriver.common.by import By

    call_command("seed", stdout=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    django_user_model.objects.create_superuser("admin", "", PASSWORD)

    browser.get(f"{live_server.url}/admin/login/")
    assert "SIGANTENG" in browser.title or "SIGANTENG" in browser.page_source
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    _save(browser, "admin-login")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_elements(By.ID, "user-tools"), "the admin login failed"

    browser.get(f"{live_server.url}/admin/tenants/tenant/demo/change/")
    assert "Toko Demo" in browser.page_source
    _save(browser, "admin-tenant")

    browser.get(f"{live_server.url}/playground/?tenant=demo")
    browser.find_element(By.NAME, "text").send_keys("Bisa bayar COD?")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Send]").click()
    bubbles = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".turn.assistant .bubble")]
    assert any("COD" in b for b in bubbles), f"the playground showed no answer from the knowledge base: {bubbles}"
    _save(browser, "playground")
