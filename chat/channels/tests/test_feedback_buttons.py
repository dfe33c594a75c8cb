"""👍/👎 buttons under answers: Telegram inline keyboards (``callback_query``, verified by
the channel's secret token) and WhatsApp interactive reply buttons where the channel turns
them on; a tap rates the answer of that customer's own conversation and nothing else."""

from __future__ import annotations

import pytest
from django.test import Client

from chat.channels import tasks
from chat.channels.tests.fakes import (
    dumps,
    hub_signature,
    telegram_callback,
    telegram_update,
    whatsapp_button_reply,
    whatsapp_webhook,
)
from chat.models import Feedback, InboundEvent, Message

pytestmark = pytest.mark.django_db

QUESTION = "How long does shipping to Bali take, and can I return an unused item?"
TG_SECRET = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"}


def _post(channel, body: bytes, **headers):
    url = f"/channels/{channel.kind}/{channel.inbound_token}/"
    return Client().post(url, data=body, content_type="application/json", headers=headers)


def _reply_all() -> None:
    for pk in InboundEvent.objects.values_list("pk", flat=True):
        assert tasks.reply_inbound(pk) == "replied"


def test_a_telegram_answer_carries_rating_buttons_and_a_tap_rates_it(tenant, kb, make_channel, telegram_api):
    kb(tenant)
    channel = make_channel(tenant, "telegram")
    _post(channel, dumps(telegram_update(update_id=1, message_id=7, chat_id=5550001, text=QUESTION)), **TG_SECRET)
    _reply_all()
    answer = Message.objects.get(role="assistant")
    *first, last = telegram_api.sent
    assert all("reply_markup" not in m for m in first)  # only under the last bubble
    buttons = last["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍", "👎"]
    assert [b["callback_data"] for b in buttons] == [f"fb:up:{answer.pk}", f"fb:down:{answer.pk}"]

    tap = dumps(telegram_callback(update_id=2, chat_id=5550001, data=f"fb:down:{answer.pk}", query_id="q1"))
    resp = _post(channel, tap, **TG_SECRET)
    assert resp.status_code == 200 and resp.json()["rated"] == 1
    feedback = Feedback.objects.get(message=answer)
    assert (feedback.value, feedback.source, feedback.tenant_id) == ("down", "telegram", tenant.pk)
    assert telegram_api.answered == [{"callback_query_id": "q1", "text": "Thank you for the feedback!"}]


def test_a_forged_or_foreign_telegram_tap_rates_nothing(tenant, kb, make_channel, telegram_api):
    kb(tenant)
    channel = make_channel(tenant, "telegram")
    _post(channel, dumps(telegram_update(update_id=1, message_id=7, chat_id=5550001, text=QUESTION)), **TG_SECRET)
    _reply_all()
    answer = Message.objects.get(role="assistant")
    tap = dumps(telegram_callback(update_id=2, chat_id=5550001, data=f"fb:up:{answer.pk}"))
    assert _post(channel, tap, **{"X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 403
    # Another chat pressing a button that names this customer's answer.
    other = dumps(telegram_callback(update_id=3, chat_id=999, data=f"fb:up:{answer.pk}"))
    assert _post(channel, other, **TG_SECRET).json()["rated"] == 0
    garbage = dumps(telegram_callback(update_id=4, chat_id=5550001, data="fb:up:not-a-uuid"))
    assert _post(channel, garbage, **TG_SECRET).json()["rated"] == 0
    assert not Feedback.objects.exists()


def test_whatsapp_rating_buttons_only_where_the_channel_turns_them_on(tenant, kb, make_channel, whatsapp_api):
    kb(tenant)
    plain = make_channel(tenant, "whatsapp", name="plain")
    body = dumps(whatsapp_webhook(wamid="wamid.IN1", wa_id="6281234567890", text=QUESTION))
    _post(plain, body, **{"X-Hub-Signature-256": hub_signature("app-secret-xyz", body)})
    _reply_all()
    assert {m["type"] for m in whatsapp_api.sent} == {"text"}


def test_a_whatsapp_button_reply_rates_the_answer(tenant, kb, make_channel, whatsapp_api):
    kb(tenant)
    channel = make_channel(tenant, "whatsapp", config={"feedback_buttons": True})
    body = dumps(whatsapp_webhook(wamid="wamid.IN1", wa_id="6281234567890", text=QUESTION))
    _post(channel, body, **{"X-Hub-Signature-256": hub_signature("app-secret-xyz", body)})
    _reply_all()
    answer = Message.objects.get(role="assistant")
    *first, last = whatsapp_api.sent
    assert {m["type"] for m in first} <= {"text"}
    assert last["type"] == "interactive" and last["interactive"]["body"]["text"] == answer.bubbles[-1]
    ids = [b["reply"]["id"] for b in last["interactive"]["action"]["buttons"]]
    assert ids == [f"fb:up:{answer.pk}", f"fb:down:{answer.pk}"]

    tap = dumps(whatsapp_button_reply(wamid="wamid.IN2", wa_id="6281234567890", button_id=ids[0], title="👍"))
    resp = _post(channel, tap, **{"X-Hub-Signature-256": hub_signature("app-secret-xyz", tap)})
    assert resp.status_code == 200 and resp.json()["rated"] == 1 and resp.json()["accepted"] == 0
    assert Feedback.objects.get(message=answer).value == "up"


def test_it_refuses_a_non_boolean_feedback_buttons_setting(tenant, make_channel):
    from siganteng.errors import ApiError

    with pytest.raises(ApiError) as refused:
        make_channel(tenant, "whatsapp", config={"feedback_buttons": "yes"})
    assert "config.feedback_buttons" in refused.value.fields
