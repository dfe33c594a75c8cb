"""Inbound webhooks: verification before anything is stored, de-duplication by the
provider's message id, and the reply delivered as bubbles in order through the channel."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chat.channels import tasks
from chat.channels.tests.fakes import dumps, hub_signature, telegram_update, whatsapp_webhook
from chat.models import Conversation, InboundEvent, Message
from siganteng import webhooks
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db

QUESTION = "How long does shipping to Bali take, and can I return an unused item?"


def _url(channel) -> str:
    return f"/channels/{channel.kind}/{channel.inbound_token}/"


def _post(channel, body: bytes, **headers):
    return Client().post(_url(channel), data=body, content_type="application/json", headers=headers)


def _nothing_stored() -> bool:
    return not (InboundEvent.objects.exists() or Message.objects.exists() or Conversation.objects.exists())


def _reply_all() -> list[str]:
    return [tasks.reply_inbound(pk) for pk in InboundEvent.objects.order_by("pk").values_list("pk", flat=True)]


def test_it_answers_a_telegram_message_with_bubbles_in_order(
    tenant, kb, make_channel, telegram_api, django_capture_on_commit_callbacks
):
    kb(tenant)
    channel = make_channel(tenant, "telegram")
    body = dumps(telegram_update(update_id=1, message_id=77, chat_id=5550001, text=QUESTION))
    with django_capture_on_commit_callbacks() as callbacks:
        resp = _post(channel, body, **{"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    assert len(callbacks) == 1  # the reply is a task, not done in the request
    event = InboundEvent.objects.get()
    assert event.external_id == "5550001:77" and event.message.content == QUESTION

    assert _reply_all() == ["replied"]
    answer = Message.objects.get(role="assistant")
    assert len(answer.bubbles) >= 2
    assert [m["text"] for m in telegram_api.sent] == answer.bubbles
    assert all(m["chat_id"] == "5550001" for m in telegram_api.sent)
    # typing indicator between bubbles, never before the first
    assert telegram_api.calls[0] == "sendMessage"
    assert telegram_api.calls.count("sendChatAction") == len(answer.bubbles) - 1
    assert Message.objects.filter(role="user").count() == 1
    conversation = Conversation.objects.get()
    assert conversation.channel_ref == channel and conversation.last_customer_message_at is not None
    assert answer.metadata["provider_message_ids"] and answer.external_id


def test_it_answers_a_repeated_telegram_delivery_once(tenant, kb, make_channel, telegram_api):
    kb(tenant)
    channel = make_channel(tenant, "telegram")
    body = dumps(telegram_update(update_id=9, message_id=12, chat_id=42, text=QUESTION))
    headers = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"}
    first, second = _post(channel, body, **headers), _post(channel, body, **headers)
    assert first.json()["accepted"] == 1 and second.json() == {"ok": True, "accepted": 0, "duplicates": 1}
    assert _reply_all() == ["replied"]
    assert tasks.reply_inbound(InboundEvent.objects.get().pk) == "stale"  # a duplicate wake-up too
    assert len(telegram_api.sent) == len(Message.objects.get(role="assistant").bubbles)
    assert Message.objects.filter(role="user").count() == 1


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_it_rejects_a_forged_telegram_update_and_stores_nothing(tenant, make_channel, secret):
    channel = make_channel(tenant, "telegram")
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    resp = _post(channel, dumps(telegram_update(update_id=1, message_id=1, chat_id=1, text="hi")), **headers)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "permission_denied"
    assert _nothing_stored()


def test_it_answers_the_whatsapp_handshake_only_with_the_verify_token(tenant, make_channel):
    channel = make_channel(tenant, "whatsapp")
    ok = Client().get(
        _url(channel), {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    bad = Client().get(_url(channel), {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    assert bad.status_code == 403


def test_it_answers_a_whatsapp_message_with_text_messages_in_order(tenant, kb, make_channel, whatsapp_api):
    kb(tenant)
    channel = make_channel(tenant, "whatsapp")
    body = dumps(whatsapp_webhook(wamid="wamid.IN1", wa_id="6281234567890", text=QUESTION))
    resp = _post(channel, body, **{"X-Hub-Signature-256": hub_signature("app-secret-xyz", body)})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    again = _post(channel, body, **{"X-Hub-Signature-256": hub_signature("app-secret-xyz", body)})
    assert again.json()["duplicates"] == 1
    assert _reply_all() == ["replied"]
    answer = Message.objects.get(role="assistant")
    assert [m["text"]["body"] for m in whatsapp_api.sent] == answer.bubbles
    assert {m["type"] for m in whatsapp_api.sent} == {"text"}
    assert all(m["to"] == "6281234567890" and m["messaging_product"] == "whatsapp" for m in whatsapp_api.sent)
    assert whatsapp_api.server.requests[0].path == "/v21.0/106540352242922/messages"


@pytest.mark.parametrize("signature,status", [(None, 401), ("sha256=" + "0" * 64, 403)])
def test_it_rejects_a_forged_whatsapp_webhook_and_stores_nothing(tenant, make_channel, signature, status):
    channel = make_channel(tenant, "whatsapp")
    body = dumps(whatsapp_webhook(wamid="wamid.X", wa_id="62800", text="hi"))
    headers = {"X-Hub-Signature-256": signature} if signature else {}
    assert _post(channel, body, **headers).status_code == status
    # a valid signature over a different body is forged too
    other = hub_signature("app-secret-xyz", body + b" ")
    assert _post(channel, body, **{"X-Hub-Signature-256": other}).status_code == 403
    assert _nothing_stored()


def test_it_answers_a_signed_webhook_message_on_the_tenants_url(tenant, kb, make_channel, local_server, allow_private):
    kb(tenant)
    channel = make_channel(tenant, "webhook", config={"url": f"{local_server.url}/agent-replies"})
    secret = channel.secrets["signing_secret"]
    body = dumps({"type": "message.received", "data": {"id": "m-1", "user_id": "cust-9", "text": QUESTION}})
    resp = _post(channel, body, **webhooks.signed_headers(secret, "msg_1", body))
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    assert _reply_all() == ["replied"]
    [req] = local_server.requests
    webhooks.verify(secret, req.headers, req.body)  # signed the Standard Webhooks way
    payload = json.loads(req.body)
    assert payload["type"] == "message.created"
    assert payload["data"]["bubbles"] == Message.objects.get(role="assistant").bubbles
    assert payload["data"]["user_id"] == "cust-9"


def test_it_rejects_an_unsigned_or_stale_webhook_message(tenant, make_channel):
    channel = make_channel(tenant, "webhook")
    secret = channel.secrets["signing_secret"]
    body = dumps({"type": "message.received", "data": {"id": "m-1", "user_id": "c", "text": "hi"}})
    assert _post(channel, body).status_code == 401
    stale = webhooks.signed_headers(secret, "msg_1", body, timestamp=1_000_000_000)
    assert _post(channel, body, **stale).status_code == 401
    forged = webhooks.signed_headers("whsec_" + "b3RoZXJzZWNyZXQwMTIzNDU2Nzg5", "msg_1", body)
    assert _post(channel, body, **forged).status_code == 401
    assert _nothing_stored()


def test_it_answers_404_for_an_unknown_inbound_token(tenant, make_channel):
    channel = make_channel(tenant, "telegram")
    assert (
        Client()
        .post(f"/channels/telegram/not-{channel.inbound_token}/", data=b"{}", content_type="application/json")
        .status_code
        == 404
    )
    assert (
        Client()
        .post(f"/channels/whatsapp/{channel.inbound_token}/", data=b"{}", content_type="application/json")
        .status_code
        == 404
    )


def test_it_acknowledges_but_ignores_updates_without_text(tenant, make_channel):
    channel = make_channel(tenant, "telegram")
    sticker = {
        "update_id": 3,
        "message": {"message_id": 5, "date": 1, "chat": {"id": 1, "type": "private"}, "sticker": {"file_id": "x"}},
    }
    resp = _post(channel, dumps(sticker), **{"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 0
    assert _nothing_stored()


def test_it_requeues_lost_reply_wake_ups_and_never_answers_an_interrupted_one_twice(
    tenant, kb, make_channel, telegram_api
):
    import datetime as dt

    from django.utils import timezone
    from django_q.signing import SignedPackage

    from siganteng.queue import broker

    kb(tenant)
    channel = make_channel(tenant, "telegram")
    headers = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"}
    for n in (1, 2):
        _post(channel, dumps(telegram_update(update_id=n, message_id=n, chat_id=7, text=QUESTION)), **headers)
    lost, interrupted = InboundEvent.objects.order_by("pk")
    old = timezone.now() - dt.timedelta(minutes=15)
    InboundEvent.objects.filter(pk=lost.pk).update(updated_at=old)
    InboundEvent.objects.filter(pk=interrupted.pk).update(status="replying", updated_at=old)
    queue = broker()
    queue.purge_queue()
    assert tasks.reconcile_inbound() == {"requeued": 1, "interrupted": 1, "expired": 0}
    [(task_id, payload)] = queue.dequeue()
    queue.acknowledge(task_id)
    task = SignedPackage.loads(payload)
    assert (task["func"], task["args"]) == ("chat.channels.tasks.reply_inbound", (lost.pk,))
    assert tasks.reply_inbound(lost.pk) == "replied"
    assert tasks.reply_inbound(interrupted.pk) == "stale"
    assert InboundEvent.objects.get(pk=interrupted.pk).status == "failed"


def test_it_retries_a_reply_when_the_llm_provider_is_down(tenant, make_channel, telegram_api, local_server, settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"{local_server.url}/v1"
    settings.LLM_MAX_RETRIES = 0
    tenant.llm_provider = "openai"
    tenant.save()
    local_server.handler = lambda req: Reply(503, {"error": {"message": "overloaded", "type": "server_error"}})
    channel = make_channel(tenant, "telegram")
    _post(
        channel,
        dumps(telegram_update(update_id=1, message_id=1, chat_id=7, text="halo")),
        **{"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"},
    )
    event = InboundEvent.objects.get()
    assert tasks.reply_inbound(event.pk) == "retry"
    event.refresh_from_db()
    assert event.status == "received" and event.error
    assert telegram_api.sent == [] and not Message.objects.filter(role="assistant").exists()
    assert Message.objects.filter(role="user").count() == 1  # the customer's message is kept


def test_it_answers_413_to_an_oversized_webhook_body_and_stores_nothing(tenant, make_channel, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    channel = make_channel(tenant, "telegram")
    body = b'{"update_id": 1, "padding": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    resp = _post(channel, body, **{"X-Telegram-Bot-Api-Secret-Token": channel.secrets.get("secret_token", "")})
    assert resp.status_code == 413, resp.content
    assert resp.json()["error"]["code"] == "request_too_large"
    assert _nothing_stored()
