"""The back-office analytics page: one tenant's numbers (never another's), the filters,
and the page as a browser shows it (headless Chromium, screenshots in var/screenshots/)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from chat import services
from chat.feedback import feedback_record
from chat.models import Conversation, Message
from tenants.models import Membership
from tenants.staff import SESSION_KEY

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def _traffic(tenant, kb, *, customers: int, channel: str = "api", rate: str | None = None) -> list[Message]:
    kb(tenant)
    answers = []
    for i in range(customers):
        result = services.reply(tenant=tenant, user_id=f"c{i}", channel=channel, text="How long is shipping to Bali?")
        answers.append(result.message)
        if rate:
            feedback_record(tenant=tenant, message=result.message, value=rate, source="api")
    return answers


def _member_client(client, tenant, username: str = "owner"):
    user = User.objects.create_user(username, password="pw-for-tests-1", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.OWNER)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_it_shows_only_the_current_tenants_numbers(client, tenant, other_tenant, kb):
    _traffic(tenant, kb, customers=3, rate="up")
    _traffic(other_tenant, kb, customers=5, rate="down")
    page = _member_client(client, tenant).get("/admin/analytics/")
    assert page.status_code == 200
    report = page.context["report"]
    assert report.tenant == tenant
    assert (report.conversations, report.answered, report.feedback_up, report.feedback_down) == (3, 3, 3, 0)
    assert report.automation_rate == 1.0 and report.feedback_score == 1.0
    assert report.first_response_median_s is not None and report.first_response_median_s >= 0
    assert sum(report.answers_per_day) == 3 and sum(report.user_messages_per_day) == 3
    html = page.content.decode()
    assert html.count('class="chart"') == 3 and "Conversations and messages per day" in html


@pytest.mark.django_db
def test_the_channel_and_date_filters_narrow_the_numbers(client, tenant, kb):
    _traffic(tenant, kb, customers=2, channel="api")
    _traffic(tenant, kb, customers=1, channel="telegram")
    old = Conversation.objects.filter(channel="api").first()
    long_ago = timezone.now() - dt.timedelta(days=40)
    Conversation.objects.filter(pk=old.pk).update(created_at=long_ago)
    client = _member_client(client, tenant)
    assert client.get("/admin/analytics/", {"channel": "telegram"}).context["report"].conversations == 1
    assert client.get("/admin/analytics/").context["report"].conversations == 2  # the last 30 days
    start = (long_ago - dt.timedelta(days=1)).date().isoformat()
    assert client.get("/admin/analytics/", {"start": start}).context["report"].conversations == 3


@pytest.mark.django_db
def test_bad_filters_are_named_not_a_500(client, tenant):
    client = _member_client(client, tenant)
    page = client.get("/admin/analytics/", {"start": "2026-05-02", "end": "2026-05-01", "channel": "fax"})
    assert page.status_code == 200 and "report" not in page.context
    assert set(page.context["form"].errors) == {"end", "channel"}
    assert client.get("/admin/analytics/", {"start": "not-a-date"}).status_code == 200


@pytest.mark.django_db
def test_staff_without_a_tenant_see_no_numbers_and_customers_are_sent_to_log_in(client, tenant):
    assert client.get("/admin/analytics/").status_code == 302
    client.force_login(User.objects.create_user("loner", password="pw-for-tests-1", is_staff=True))
    page = client.get("/admin/analytics/")
    assert page.status_code == 200 and "report" not in page.context


@pytest.mark.django_db(transaction=True)
def test_the_page_in_a_browser(live_server, client, tenant, other_tenant, kb):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed")
    answers = _traffic(tenant, kb, customers=4, rate="up")
    feedback_record(tenant=tenant, message=answers[0], value="down", source="telegram")
    # Spread the conversations over a week so the charts have days to show.
    for i, answer in enumerate(answers):
        when = timezone.now() - dt.timedelta(days=i * 2)
        Conversation.objects.filter(pk=answer.conversation_id).update(created_at=when)
        Message.objects.filter(conversation_id=answer.conversation_id).update(created_at=when)
    tenant.monthly_token_budget = 1000
    tenant.save(update_fields=["monthly_token_budget"])
    _member_client(client, tenant)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    options = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1400",
    ):
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
    try:
        driver.get(f"{live_server.url}/admin/login/")
        driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session, "path": "/"})
        driver.get(f"{live_server.url}/admin/analytics/")
        body = driver.find_element("tag name", "body").text
        assert "Analytics — Acme" in body and "Automation rate" in body and "Feedback score" in body
        assert "3 up · 1 down" in body  # one rating per answer: the later one replaced the first
        charts = driver.find_elements("css selector", "svg.chart")
        assert len(charts) == 3 and all(c.size["width"] > 300 for c in charts)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "analytics.png"))
        driver.get(f"{live_server.url}/admin/analytics/?channel=telegram")
        assert "0 answered" in driver.find_element("tag name", "body").text
        driver.save_screenshot(str(SCREENSHOTS / "analytics-filtered.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert SESSION_KEY  # the page used the session's tenant (tenants.staff)
