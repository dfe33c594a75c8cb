"""The whole handoff story in headless Chromium, with a real cluster and a Telegram-shaped
fake server: a customer asks for a person → the open inbox shows it without a reload →
an agent takes over and replies → the fake server receives the reply → the bot stays
silent on the next message → release → the bot answers again. Screenshots go to
var/screenshots/."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.auth import get_user_model

from chat.channels.services import channel_create
from chat.channels.tests.fakes import BOT_TOKEN, TelegramAPI, dumps, telegram_update
from chat.models import Conversation, InboundEvent
from siganteng.testing import LocalServer, chromium, qcluster, screenshot, wait_until
from tenants.models import Membership

SECRET = "tg-secret-0123456789"
DOCS = [
    (
        "shipping",
        "Shipping",
        "We ship to all of Indonesia. Shipping to Bali takes 3-4 days. Express shipping costs Rp 25.000 extra.",
    )
]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path) as driver:
        driver.implicitly_wait(0)
        yield driver


def shot(driver, name: str) -> None:
    screenshot(driver, f"handoff-{name}")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_whole_handoff_story_in_a_browser(browser, live_server, make_tenant, kb, settings):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.OUTBOUND_ALLOW_PRIVATE = True
    tenant = make_tenant(
        "acme", working_hours={d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    kb(tenant, DOCS)
    user = get_user_model().objects.create_user("rina", email="rina@acme.test", password="pw-rina-123", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.AGENT)
    telegram = TelegramAPI()
    with LocalServer(telegram) as fake, qcluster(OUTBOUND_ALLOW_PRIVATE="true", TELEGRAM_API_BASE=fake.url):
        settings.TELEGRAM_API_BASE = fake.url
        channel, _ = channel_create(
            tenant=tenant, kind="telegram", name="tg", secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET}
        )
        inbound = f"{live_server.url}/channels/telegram/{channel.inbound_token}/"

        def customer(text: str, message_id: int) -> None:
            body = dumps(telegram_update(update_id=message_id, message_id=message_id, chat_id=5550001, text=text))
            r = httpx.post(
                inbound,
                content=body,
                headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            assert r.status_code == 200 and r.json()["accepted"] == 1

        # The page redraws itself every poll and reloads after each button: look elements up afresh.
        wait = WebDriverWait(
            browser, 30, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
        )
        browser.get(f"{live_server.url}/admin/login/?next=/admin/inbox/")
        browser.find_element(By.NAME, "username").send_keys("rina")
        browser.find_element(By.NAME, "password").send_keys("pw-rina-123")
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait.until(lambda d: "No conversations" in d.find_element(By.ID, "inbox-rows").text)
        shot(browser, "1-inbox-empty")

        # 1. The customer asks for a person; the open inbox shows it by itself.
        customer("Halo, saya mau bicara dengan admin", 1)
        row_text = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#inbox-rows tr[data-id]").text)
        assert "5550001" in row_text and "Needs a human" in row_text
        link = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#inbox-rows tr[data-id] a").get_attribute("href"))
        wait_until(lambda: telegram.sent, message="the handoff message on Telegram")
        assert "team" in telegram.sent[0]["text"]
        shot(browser, "2-inbox-waiting")

        # 2. The agent opens it, takes over and replies; Telegram receives the reply.
        browser.get(link)
        wait.until(lambda d: "mau bicara dengan admin" in d.find_element(By.ID, "transcript").text)
        browser.find_element(By.ID, "btn-takeover").click()
        wait.until(lambda d: d.find_element(By.ID, "conv-state").text == "Human")
        browser.find_element(By.ID, "composer-text").send_keys("Halo, saya Rina dari tim CS. Ada yang bisa dibantu?")
        browser.find_element(By.ID, "btn-send").click()
        wait_until(lambda: any("saya Rina" in m["text"] for m in telegram.sent), message="the staff reply on Telegram")
        wait.until(lambda d: "Ada yang bisa dibantu?" in d.find_element(By.ID, "transcript").text)
        shot(browser, "3-staff-reply")

        # 3. The bot is silent on the next customer message; the agent sees it appear.
        sent = len(telegram.sent)
        customer("Berapa lama pengiriman ke Bali?", 2)
        wait.until(lambda d: "pengiriman ke Bali" in d.find_element(By.ID, "transcript").text)
        wait_until(lambda: InboundEvent.objects.filter(external_id="5550001:2", status="held").exists(), message="held")
        assert len(telegram.sent) == sent
        shot(browser, "4-bot-silent")

        # 4. Release: the bot answers again.
        browser.find_element(By.ID, "btn-release").click()
        wait.until(lambda d: d.find_element(By.ID, "conv-state").text == "Bot")
        customer("How long does shipping to Bali take?", 3)
        wait_until(lambda: "3-4 days" in " ".join(m["text"] for m in telegram.sent[sent:]), message="the bot's answer")
        wait.until(lambda d: "3-4 days" in d.find_element(By.ID, "transcript").text)
        shot(browser, "5-bot-again")
    assert Conversation.objects.get().state == "bot"
