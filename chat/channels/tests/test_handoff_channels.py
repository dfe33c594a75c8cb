"""Handoff on the messaging channels: the bot silent on Telegram while a person has the
conversation, staff replies delivered through the channel (WhatsApp's window included),
follow-ups held, and one responder when a message and a takeover arrive together."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chat import handoff, tasks
from chat.channels import tasks as channel_tasks
from chat.channels.tests.fakes import dumps, telegram_update
from chat.models import Conversation, InboundEvent, Message
from siganteng.testing import run_concurrently
from tenants.models import Membership

pytestmark = pytest.mark.django_db

SECRET = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"}


@pytest.fixture(autouse=True)
def always_open(tenant):
    """The handoff message depends on the hour; these tests are about the channel."""
    tenant.working_hours = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    tenant.save()


@pytest.fixture
def agent_user(tenant):
    user = get_user_model().objects.create_user("rina", email="rina@acme.test", password="pw-rina-123")
    Membership.objects.create(user=user, tenant=tenant, role=Membership.AGENT)
    return user


def say(channel, text: str, message_id: int, chat_id: int = 5550001) -> str:
    body = dumps(telegram_update(update_id=message_id, message_id=message_id, chat_id=chat_id, text=text))
    r = Client().post(
        f"/channels/telegram/{channel.inbound_token}/", data=body, content_type="application/json", headers=SECRET
    )
    assert r.status_code == 200
    event = InboundEvent.objects.get(external_id=f"{chat_id}:{message_id}")
    return channel_tasks.reply_inbound(event.pk)


def test_the_bot_is_silent_on_telegram_while_a_person_has_the_conversation(
    tenant, kb, make_channel, telegram_api, agent_user
):
    kb(tenant)
    channel = make_channel(tenant, "telegram")
    assert say(channel, "mau bicara dengan admin", 1) == "replied"
    conversation = Conversation.objects.get()
    assert conversation.state == "needs_human"
    assert [m["text"] for m in telegram_api.sent] == [handoff.DEFAULT_MESSAGES["en"]["open"]]

    sent_before = len(telegram_api.sent)
    assert say(channel, "How long does shipping to Bali take?", 2) == "held"
    assert len(telegram_api.sent) == sent_before  # nobody answered
    assert InboundEvent.objects.get(external_id="5550001:2").status == "held"

    handoff.takeover(conversation=conversation, user=agent_user)
    message = handoff.staff_reply(
        conversation=conversation, text="Halo, saya Rina. 3-4 hari ke Bali.", author=agent_user
    )
    assert tasks.deliver_staff_message(str(message.pk)) == "sent"
    assert telegram_api.sent[-1] == {"chat_id": "5550001", "text": "Halo, saya Rina. 3-4 hari ke Bali."}
    message.refresh_from_db()
    assert message.metadata["delivery"]["status"] == "sent" and message.external_id
    assert tasks.deliver_staff_message(str(message.pk)) == "stale"  # a duplicate wake-up sends nothing

    handoff.release(conversation=conversation, actor=agent_user)
    assert say(channel, "How long does shipping to Bali take?", 3) == "replied"
    assert "Bali" in " ".join(m["text"] for m in telegram_api.sent[-3:])


def test_a_staff_reply_outside_the_whatsapp_window_says_why_it_cannot_go(
    tenant, make_channel, whatsapp_api, agent_user
):
    channel = make_channel(tenant, "whatsapp")
    conversation = Conversation.objects.create(
        tenant=tenant,
        user_id="6281234",
        channel="whatsapp",
        channel_ref=channel,
        last_customer_message_at=timezone.now() - dt.timedelta(hours=30),
    )
    message = handoff.staff_reply(conversation=conversation, text="Are you still there?", author=agent_user)
    assert tasks.deliver_staff_message(str(message.pk)) == "skipped"
    message.refresh_from_db()
    assert message.metadata["delivery"]["reason"] == "whatsapp_window_closed"
    assert whatsapp_api.sent == []


def test_followups_are_held_while_a_person_has_the_conversation(tenant, make_channel, telegram_api, agent_user):
    from followups.services import followup_schedule, followups_claim_due

    channel = make_channel(tenant, "telegram")
    conversation = Conversation.objects.create(tenant=tenant, user_id="42", channel="telegram", channel_ref=channel)
    followup, _ = followup_schedule(
        tenant=tenant,
        conversation=conversation,
        channel=channel,
        text="Still interested?",
        due_at=timezone.now() - dt.timedelta(minutes=1),
        respect_working_hours=False,
    )
    handoff.takeover(conversation=conversation, user=agent_user)
    assert followups_claim_due() == []
    handoff.release(conversation=conversation, actor=agent_user)
    assert followups_claim_due() == [str(followup.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_message_and_a_takeover_at_the_same_instant_get_exactly_one_responder(
    tenant, kb, make_channel, telegram_api, agent_user
):
    kb(tenant)
    channel = make_channel(tenant, "telegram")
    rounds = 6
    for i in range(rounds):
        chat_id = 7000 + i
        body = dumps(telegram_update(update_id=i, message_id=1, chat_id=chat_id, text="How long to Bali?"))
        Client().post(
            f"/channels/telegram/{channel.inbound_token}/", data=body, content_type="application/json", headers=SECRET
        )
        event = InboundEvent.objects.get(external_id=f"{chat_id}:1")
        conversation = Conversation.objects.get(user_id=str(chat_id))
        user = get_user_model().objects.get(pk=agent_user.pk)

        def act(n: int, event_id=event.pk, conversation_id=conversation.pk, user=user):
            if n == 0:
                return channel_tasks.reply_inbound(event_id)
            handoff.takeover(conversation=Conversation.objects.get(pk=conversation_id), user=user)
            return "taken"

        outcome, _ = run_concurrently(act, 2)
        conversation.refresh_from_db()
        bot_answers = Message.objects.filter(conversation=conversation, role="assistant").count()
        assert conversation.state == "human"
        # Exactly one responder: the bot answered (before the takeover) or it held the
        # message for the person, never both and never neither.
        assert (outcome, bot_answers) in (("replied", 1), ("held", 0)), (outcome, bot_answers)
        if outcome == "held":
            assert all(m["chat_id"] != str(chat_id) for m in telegram_api.sent)


def test_a_staff_reply_goes_out_signed_on_the_webhook_channel(tenant, make_channel, agent_user, allow_private):
    from chat.channels.tests.conftest import WEBHOOK_SECRET
    from siganteng import webhooks
    from siganteng.testing import LocalServer, Recorded, Reply

    received: list[Recorded] = []

    def receiver(req: Recorded) -> Reply:
        received.append(req)
        return Reply(204, None)

    with LocalServer(receiver) as server:
        channel = make_channel(tenant, "webhook", config={"url": f"{server.url}/hook"})
        conversation = Conversation.objects.create(
            tenant=tenant, user_id="crm-7", channel="webhook", channel_ref=channel
        )
        message = handoff.staff_reply(conversation=conversation, text="Your order ships today.", author=agent_user)
        assert tasks.deliver_staff_message(str(message.pk)) == "sent"
    [req] = received
    webhooks.verify(WEBHOOK_SECRET, req.headers, req.body)
    data = req.json()["data"]
    assert req.json()["type"] == "message.created"
    assert data["text"] == "Your order ships today." and data["metadata"] == {"author": "rina"}
