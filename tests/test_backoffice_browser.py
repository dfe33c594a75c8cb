"""The back-office in a real browser (Debian's headless Chromium, driven by Selenium):
an owner logs in and invites an agent, the agent sets a password from the emailed link,
logs in and sees only its tenant, in Bahasa Indonesia. Screenshots go to
var/screenshots/backoffice-*.png."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from chat.models import Conversation
from siganteng.testing import chromium, screenshot, submit
from tenants.models import Membership

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path, languages="id,en") as driver:
        driver.implicitly_wait(5)
        yield driver


def _shot(driver, name: str) -> None:
    screenshot(driver, f"backoffice-{name}")


def _text(driver) -> str:
    """The page's visible text, lower-cased (the admin's CSS upper-cases some headings)."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text.lower()


def _login(driver, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/admin/login/?next=/admin/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    submit(driver, "input[type=submit]")


def test_it_onboards_an_agent_who_sees_only_its_tenant_in_indonesian(browser, live_server, make_tenant):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    toko = make_tenant("toko-budi", name="Toko Budi", locale="id")
    other = make_tenant("warung-lain", name="Warung Lain")
    Conversation.objects.create(tenant=toko, user_id="pelanggan-toko", channel="api")
    Conversation.objects.create(tenant=other, user_id="pelanggan-warung-lain", channel="api")
    owner = get_user_model().objects.create_user(
        "budi@toko.test", email="budi@toko.test", password="Pemilik-Toko-2026", is_staff=True
    )
    Membership.objects.create(user=owner, tenant=toko, role=Membership.OWNER)
    base = live_server.url

    _login(browser, base, "budi@toko.test", "Pemilik-Toko-2026")
    assert browser.find_element(By.ID, "current-tenant").text == "Toko Budi"
    body = _text(browser)
    assert "selamat datang" in body and "percakapan" in body and "kunci api" in body
    _shot(browser, "1-owner-index")

    browser.get(f"{base}/admin/tenants/membership/invite/")
    browser.find_element(By.NAME, "email").send_keys("sari@toko.test")
    Select(browser.find_element(By.NAME, "role")).select_by_value("agent")
    _shot(browser, "2-invite-form")
    submit(browser, "#invite-form input[type=submit]")
    assert "undangan terkirim ke sari@toko.test" in _text(browser)
    _shot(browser, "3-invitation-sent")

    assert [m.to for m in mail.outbox] == [["sari@toko.test"]]
    link = re.search(r"https?://\S+/admin/staff/invitation/\S+/", mail.outbox[0].body).group(0)
    browser.delete_all_cookies()
    browser.get(link)
    assert "anda diundang ke toko budi sebagai agen" in _text(browser)
    browser.find_element(By.NAME, "password1").send_keys("Agen-Sari-2026")
    browser.find_element(By.NAME, "password2").send_keys("Agen-Sari-2026")
    _shot(browser, "4-accept-invitation")
    submit(browser, "input[type=submit]")
    assert "selamat datang di toko budi" in _text(browser)

    _login(browser, base, "sari@toko.test", "Agen-Sari-2026")
    assert browser.find_element(By.ID, "current-tenant").text == "Toko Budi"
    body = _text(browser)
    assert "percakapan" in body and "agen" in body
    assert "kunci api" not in body and "warung lain" not in body  # an agent's pages, one tenant
    _shot(browser, "5-agent-index")
    browser.get(f"{base}/admin/chat/conversation/")
    body = _text(browser)
    assert "pelanggan-toko" in body and "pelanggan-warung-lain" not in body
    _shot(browser, "6-agent-conversations")
    browser.get(f"{base}/admin/tenants/apikey/")
    assert "pelanggan" not in browser.page_source and "sgt_" not in browser.page_source
