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

from siganteng.testing import BASE_DIR, submit

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
    submit(browser, "input[type=submit]")
    assert browser.find_elements(By.ID, "user-tools"), "the admin login failed"

    browser.get(f"{live_server.url}/admin/tenants/tenant/demo/change/")
    assert "Toko Demo" in browser.page_source
    _save(browser, "admin-tenant")

    browser.get(f"{live_server.url}/playground/?tenant=demo")
    browser.find_element(By.NAME, "text").send_keys("Bisa bayar COD?")
    submit(browser, "input[type=submit][value=Send]")
    bubbles = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".turn.assistant .bubble")]
    assert any("COD" in b for b in bubbles), f"the playground showed no answer from the knowledge base: {bubbles}"
    _save(browser, "playground")


def _a_fortnight_of_traffic(tenant) -> None:
    """Two weeks of the demo shop's customers: questions the knowledge base answers,
    customers asking for a person whom a staff member answers minutes later, ratings
    with comments; every row moved back to its day."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db.models import Count, Sum
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    from chat import handoff, services
    from chat.feedback import feedback_record
    from chat.models import Conversation, ConversationEvent, Message, UsageDaily
    from tenants.models import Membership

    agent = get_user_model().objects.create_user("rina", password=PASSWORD, is_staff=True)
    Membership.objects.create(user=agent, tenant=tenant, role=Membership.AGENT)
    questions = ["Bisa bayar COD?", "Berapa lama pengiriman ke Bandung?", "Bagaimana cara retur barang?"]
    comments = {3: "Jawabannya kurang jelas", 8: "Saya tanya ongkir, bukan lama kirim"}
    now = timezone.now()
    for i in range(24):
        day = now - dt.timedelta(days=13 - i * 13 // 23, hours=2 + i % 5)
        result = services.reply(tenant=tenant, user_id=f"62812000{i:04d}", channel="whatsapp", text=questions[i % 3])
        conversation, answer = result.conversation, result.message
        if i % 3 == 0:
            feedback_record(tenant=tenant, message=answer, value="up", source="whatsapp")
        elif i in comments:
            feedback_record(tenant=tenant, message=answer, value="down", comment=comments[i], source="whatsapp")
        wait = None
        if i % 4 == 1:  # asks for a person; an agent answers after a few minutes
            services.reply(tenant=tenant, user_id=f"62812000{i:04d}", channel="whatsapp", text="Mau bicara dengan CS")
            wait = dt.timedelta(minutes=3 + (i * 7) % 19)
            reply = handoff.staff_reply(conversation=conversation, text="Halo Kak, saya Rina dari CS.", author=agent)
            if i % 8 == 1:
                handoff.release(conversation=conversation, actor=agent)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=day)
        Message.objects.filter(conversation=conversation, role="user").update(created_at=day)
        # The bot answers in a second or three, as a hosted model does.
        answered = day + dt.timedelta(seconds=1.2 + (i % 4) * 0.6)
        Message.objects.filter(conversation=conversation, role="assistant").exclude(provider="staff").update(
            created_at=answered
        )
        ConversationEvent.objects.filter(conversation=conversation).update(created_at=answered)
        if wait:
            Message.objects.filter(pk=reply.pk).update(created_at=day + wait)
    # Two customers waiting for a person now, one of them unhappy.
    for i, text in enumerate(["Mau bicara dengan admin, pesanan saya belum sampai", "Minta CS dong"]):
        services.reply(tenant=tenant, user_id=f"6281399900{i}", channel="whatsapp", text="Berapa ongkir ke Bandung?")
        services.reply(tenant=tenant, user_id=f"6281399900{i}", channel="whatsapp", text=text)
    first = Message.objects.filter(conversation__user_id="62813999000", role="assistant").order_by("created_at")[0]
    feedback_record(tenant=tenant, message=first, value="down", comment="Ongkirnya salah", source="whatsapp")
    # Tokens per day as the answers spent them (the roll-up was written today).
    UsageDaily.objects.filter(tenant=tenant).delete()
    spent = (
        Message.objects.filter(tenant=tenant, role="assistant")
        .exclude(provider="staff")
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day", "provider", "model")
        .annotate(requests=Count("pk"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"))
    )
    UsageDaily.objects.bulk_create(
        UsageDaily(
            tenant=tenant,
            date=row["day"],
            provider=row["provider"],
            model=row["model"],
            requests=row["requests"],
            tokens_in=row["tokens_in"],
            tokens_out=row["tokens_out"],
        )
        for row in spent
    )


def test_the_analytics_page_and_the_inbox_as_the_docs_show_them(live_server, browser, django_user_model):
    """A fortnight of the demo shop's traffic, an owner's export done by the job system:
    the analytics page (bot and person response times, handoffs, ratings, the export)
    and the inbox with its ratings column."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from jobs import tasks
    from jobs.models import Job
    from tenants.models import Tenant

    call_command("seed", stdout=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    tenant = Tenant.objects.get(pk="demo")
    _a_fortnight_of_traffic(tenant)
    django_user_model.objects.create_superuser("admin", "", PASSWORD)

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    submit(browser, "input[type=submit]")
    Select(browser.find_element(By.ID, "switch-tenant")).select_by_value("demo")
    submit(browser, "#tenant-switcher button")  # the switch is stored before we move on
    browser.get(f"{live_server.url}/admin/analytics/")
    if browser.find_elements(By.ID, "toggle-nav-sidebar"):
        browser.find_element(By.ID, "toggle-nav-sidebar").click()  # the width for two charts a row

    # An export, run as the cluster runs it, so the page shows its link.
    browser.find_element(By.ID, "export-submit").click()
    row = WebDriverWait(browser, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#exports tr[data-id]"))
    job = Job.objects.get(pk=row.get_attribute("data-id"))
    assert tasks.run_job(str(job.pk)) == "SUCCEEDED"
    browser.get(f"{live_server.url}/admin/analytics/")
    body = browser.find_element(By.TAG_NAME, "body").text
    for shown in ("Median first response, bot", "Median first reply, person", "Handoff rate", "Feedback score"):
        assert shown in body, shown
    assert "min" in browser.find_element(By.ID, "card-human-response").text
    assert browser.find_elements(By.CSS_SELECTOR, "#exports a.export-download")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 4
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 120, 2600))
    _save(browser, "analytics")

    browser.set_window_size(1280, 900)
    browser.get(f"{live_server.url}/admin/inbox/")
    Select(browser.find_element(By.NAME, "state")).select_by_value("all")
    WebDriverWait(browser, 20).until(lambda d: "Ongkirnya salah" in d.find_element(By.ID, "inbox-rows").text)
    _save(browser, "inbox")
