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
    assert html.count('class="chart"') == 4 and "Conversations and messages per day" in html


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


@pytest.mark.django_db
def test_it_times_a_persons_first_reply_after_each_handoff(client, tenant, kb):
    """Customers ask for a person through the chat; staff take over and reply at known
    times. The median runs from each handoff to the first staff reply before that
    handoff ended; a handoff given back to the bot without a reply counts as unreplied,
    and still counts as a handoff."""
    from chat import handoff
    from chat.models import ConversationEvent

    kb(tenant)
    _member_client(client, tenant)
    agent = User.objects.create_user("agent-rina", password="pw-for-tests-1", is_staff=True)
    Membership.objects.create(user=agent, tenant=tenant, role=Membership.AGENT)
    # Times of day on today's UTC date (some may lie ahead of now: the report does not mind).
    today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - dt.timedelta(hours=12)
    minutes = dt.timedelta(minutes=1)

    def handed_off(customer: str, at: dt.datetime) -> Conversation:
        result = services.reply(tenant=tenant, user_id=customer, channel="telegram", text="mau bicara dengan admin")
        conversation = result.conversation
        conversation.refresh_from_db()
        assert conversation.state == "needs_human"
        latest = ConversationEvent.objects.filter(conversation=conversation, kind="handoff").order_by("-pk")[:1]
        ConversationEvent.objects.filter(pk__in=latest).update(created_at=at)
        return conversation

    def staff_reply(conversation: Conversation, at: dt.datetime) -> None:
        message = handoff.staff_reply(conversation=conversation, text="Halo, saya Rina.", author=agent)
        Message.objects.filter(pk=message.pk).update(created_at=at)

    # Two minutes and ten minutes today; four minutes yesterday.
    at = today + dt.timedelta(hours=1)
    staff_reply(handed_off("c1", at), at + 2 * minutes)
    at = today + dt.timedelta(hours=2)
    staff_reply(handed_off("c2", at), at + 10 * minutes)
    staff_reply(handed_off("c3", yesterday), yesterday + 4 * minutes)
    # Given back to the bot without a reply, then asked for again and answered after six
    # minutes: the first handoff is unreplied (the later reply belongs to the second).
    at = today + dt.timedelta(hours=3)
    c4 = handed_off("c4", at)
    handoff.release(conversation=c4, actor=agent)
    ConversationEvent.objects.filter(conversation=c4, kind="release").update(created_at=at + minutes)
    at = today + dt.timedelta(hours=4)
    assert handed_off("c4", at).pk == c4.pk
    staff_reply(c4, at + 6 * minutes)
    # Still waiting for anyone.
    handed_off("c5", today + dt.timedelta(hours=5))
    # A conversation the bot answered alone.
    services.reply(tenant=tenant, user_id="c6", channel="telegram", text="How long is shipping to Bali?")

    page = client.get("/admin/analytics/")
    report = page.context["report"]
    assert (report.handoffs_replied, report.handoffs_unreplied) == (4, 2)
    assert report.human_first_response_median_s == pytest.approx(300, abs=1)  # median of 2, 4, 6 and 10 min
    by_day = dict(zip(report.days, report.human_first_response_per_day, strict=True))
    assert by_day[today.date()] == pytest.approx(360, abs=1)  # 2, 6 and 10 min
    assert by_day[yesterday.date()] == pytest.approx(240, abs=1)
    assert sum(v is not None for v in report.human_first_response_per_day) == 2
    # Every handed-off conversation counts, c4 too although it went back to the bot.
    assert (report.conversations, report.handoffs) == (6, 5)
    assert report.handoff_reasons == [("customer_request", 6)]
    assert report.first_response_median_s is not None and report.first_response_median_s < 60  # the bot's
    html = page.content.decode()
    assert "Median first reply, person" in html and "5.0 min" in html and "4 replied, 2 not" in html
    assert html.count('class="chart"') == 4


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
        assert len(charts) == 4 and all(c.size["width"] > 300 for c in charts)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "analytics.png"))
        driver.get(f"{live_server.url}/admin/analytics/?channel=telegram")
        assert "0 answered" in driver.find_element("tag name", "body").text
        driver.save_screenshot(str(SCREENSHOTS / "analytics-filtered.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert SESSION_KEY  # the page used the session's tenant (tenants.staff)
