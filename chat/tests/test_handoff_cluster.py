"""Handoff with a real qcluster: the helpdesk API drives a Telegram conversation whose
agent messages and signed events are delivered by the cluster; and a burst of customer
messages is answered once, after the tenant's quiet time, with real timing."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat.channels.services import channel_create
from chat.channels.tests.fakes import BOT_TOKEN, TelegramAPI, dumps, telegram_update
from chat.models import Conversation, ConversationEvent, HandoffSettings, InboundEvent, Message
from siganteng import webhooks
from siganteng.testing import LocalServer, Recorded, Reply, qcluster, wait_until
from tenants.models import Membership

SECRET = "tg-secret-0123456789"
ALWAYS_OPEN = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def customer(channel, text: str, message_id: int, chat_id: int = 5550001) -> None:
    body = dumps(telegram_update(update_id=message_id, message_id=message_id, chat_id=chat_id, text=text))
    r = Client().post(
        f"/channels/telegram/{channel.inbound_token}/",
        data=body,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_helpdesk_drives_a_telegram_conversation_through_the_api(make_tenant, make_client, kb, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    tenant = make_tenant("acme", working_hours=ALWAYS_OPEN)
    kb(tenant)
    agent = get_user_model().objects.create_user("rina", email="rina@acme.test", password="pw-rina-123")
    Membership.objects.create(user=agent, tenant=tenant, role=Membership.AGENT)
    client = make_client(tenant)
    telegram = TelegramAPI()
    received: list[Recorded] = []

    def helpdesk(req: Recorded) -> Reply:
        received.append(req)
        return Reply(200, {"ok": True})

    with (
        LocalServer(telegram) as tg,
        LocalServer(helpdesk) as hd,
        qcluster(OUTBOUND_ALLOW_PRIVATE="true", TELEGRAM_API_BASE=tg.url),
    ):
        settings.TELEGRAM_API_BASE = tg.url
        HandoffSettings.objects.create(tenant=tenant, events_url=f"{hd.url}/events")
        channel, _ = channel_create(
            tenant=tenant, kind="telegram", name="tg", secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET}
        )
        customer(channel, "How long does shipping to Bali take?", 1)
        wait_until(lambda: telegram.sent, message="the bot's answer")
        conversation = Conversation.objects.get()
        base = f"/api/v1/conversations/{conversation.pk}"

        assert client.post(f"{base}/handoff", {"reason": "VIP"}, format="json").json()["state"] == "needs_human"
        assert client.post(f"{base}/assign", {"assignee": "rina"}, format="json").json()["assigned_to"] == "rina"
        r = client.post(f"{base}/messages", {"text": "Halo dari helpdesk", "author": "Budi"}, format="json")
        assert r.status_code == 201
        wait_until(lambda: any(m["text"] == "Halo dari helpdesk" for m in telegram.sent), message="agent message")
        sent = len(telegram.sent)
        customer(channel, "Terima kasih, satu lagi pertanyaan", 2)
        wait_until(lambda: InboundEvent.objects.filter(external_id="5550001:2", status="held").exists(), message="held")
        assert len(telegram.sent) == sent  # the bot stayed silent
        assert client.post(f"{base}/close", {}, format="json").json()["state"] == "closed"
        wait_until(
            lambda: not ConversationEvent.objects.filter(webhook_status="pending").exists(), message="events out"
        )

    bodies = [json.loads(r.body) for r in received]
    types = [b["type"] for b in bodies]
    assert types.count("conversation.handoff") == 1 and types.count("conversation.closed") == 1
    texts = [b["data"]["message"]["text"] for b in bodies if b["type"] == "message.created"]
    assert "Halo dari helpdesk" in texts and "Terima kasih, satu lagi pertanyaan" in texts
    for req in received:
        webhooks.verify(tenant.webhook_secret, req.headers, req.body)
    assert not ConversationEvent.objects.filter(webhook_status="failed").exists()
    agent_message = Message.objects.get(provider="staff")
    assert agent_message.metadata["delivery"]["status"] == "sent"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_burst_is_answered_once_after_the_quiet_time(make_tenant, kb, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    tenant = make_tenant("acme", working_hours=ALWAYS_OPEN)
    kb(tenant)
    HandoffSettings.objects.create(tenant=tenant, debounce_seconds=1.5)
    telegram = TelegramAPI()
    with LocalServer(telegram) as tg, qcluster(OUTBOUND_ALLOW_PRIVATE="true", TELEGRAM_API_BASE=tg.url):
        settings.TELEGRAM_API_BASE = tg.url
        channel, _ = channel_create(
            tenant=tenant, kind="telegram", name="tg", secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET}
        )
        customer(channel, "halo", 1)
        customer(channel, "mau tanya", 2)
        customer(channel, "How long does shipping to Bali take?", 3)
        wait_until(
            lambda: not InboundEvent.objects.filter(status__in=("received", "replying")).exists(),
            timeout=60,
            message="the burst handled",
        )
    statuses = dict(InboundEvent.objects.values_list("external_id", "status"))
    assert statuses == {"5550001:1": "merged", "5550001:2": "merged", "5550001:3": "replied"}
    answers = Message.objects.filter(role="assistant")
    assert answers.count() == 1
    assert [m["text"] for m in telegram.sent] == answers.get().bubbles
    assert "3-4 days" in answers.get().content
