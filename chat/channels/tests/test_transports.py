"""Outbound transports against local servers speaking the providers' formats: errors map
to permanent / transient, channel-breaking errors disable the channel, private targets
are refused unless allowed, the WhatsApp 24-hour window picks text or template."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chat.channels.base import DeliverySkipped, Outbound, TransportError
from chat.channels.services import channel_send, channel_send_test
from chat.models import Channel, Conversation
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db


def _conversation(tenant, channel, *, wrote_ago: dt.timedelta | None):
    return Conversation.objects.create(
        tenant=tenant,
        user_id="6281234567890",
        channel=channel.kind,
        channel_ref=channel,
        last_customer_message_at=None if wrote_ago is None else timezone.now() - wrote_ago,
    )


def test_it_disables_a_telegram_channel_whose_token_was_revoked(tenant, make_channel, telegram_api):
    channel = make_channel(tenant, "telegram", secrets={"bot_token": "999:AAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    with pytest.raises(TransportError) as err:
        channel_send(channel=channel, outbound=Outbound(recipient="1", bubbles=["hi"]))
    assert err.value.permanent and err.value.disable
    channel.refresh_from_db()
    assert not channel.enabled and "401" in channel.disabled_reason and channel.last_error_at is not None
    with pytest.raises(TransportError, match="disabled"):
        channel_send(channel=channel, outbound=Outbound(recipient="1", bubbles=["hi"]))


def test_it_keeps_a_channel_enabled_when_one_recipient_blocked_the_bot(tenant, make_channel, telegram_api):
    channel = make_channel(tenant, "telegram")
    telegram_api.fail_next.append(
        Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    )
    with pytest.raises(TransportError) as err:
        channel_send(channel=channel, outbound=Outbound(recipient="1", bubbles=["hi"]))
    assert err.value.permanent and not err.value.disable
    channel.refresh_from_db()
    assert channel.enabled and "blocked" in channel.last_error


def test_it_treats_telegram_rate_limits_as_transient(tenant, make_channel, telegram_api):
    channel = make_channel(tenant, "telegram")
    telegram_api.fail_next.append(
        Reply(
            429, {"ok": False, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 3}}
        )
    )
    with pytest.raises(TransportError) as err:
        channel_send(channel=channel, outbound=Outbound(recipient="1", bubbles=["hi"]))
    assert not err.value.permanent
    assert Channel.objects.get().enabled


def test_it_refuses_private_targets_unless_allowed(tenant, make_channel, local_server):
    channel = make_channel(tenant, "webhook", config={"url": f"{local_server.url}/hook"})
    with pytest.raises(TransportError) as err:
        channel_send(channel=channel, outbound=Outbound(recipient="u", bubbles=["hi"]))
    assert err.value.permanent and err.value.code == "private_address"
    assert local_server.requests == []
    assert not Channel.objects.get().enabled


def test_it_sends_whatsapp_text_inside_the_24_hour_window(tenant, make_channel, whatsapp_api):
    channel = make_channel(tenant, "whatsapp", config={"template": {"name": "follow_up", "language": "id"}})
    conversation = _conversation(tenant, channel, wrote_ago=dt.timedelta(hours=23))
    ids = channel_send(
        channel=channel, outbound=Outbound(recipient="6281234567890", bubbles=["a", "b"], conversation=conversation)
    )
    assert len(ids) == 2 and [m["type"] for m in whatsapp_api.sent] == ["text", "text"]


def test_it_sends_the_whatsapp_template_outside_the_window(tenant, make_channel, whatsapp_api):
    channel = make_channel(tenant, "whatsapp", config={"template": {"name": "follow_up", "language": "id"}})
    conversation = _conversation(tenant, channel, wrote_ago=dt.timedelta(hours=25))
    channel_send(
        channel=channel,
        outbound=Outbound(
            recipient="6281234567890", bubbles=["Halo Budi,", "pesanan\nsiap"], conversation=conversation
        ),
    )
    [sent] = whatsapp_api.sent
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "follow_up" and sent["template"]["language"] == {"code": "id"}
    assert sent["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Halo Budi, pesanan siap"}]}
    ]


def test_it_skips_whatsapp_outside_the_window_without_a_template(tenant, make_channel, whatsapp_api):
    channel = make_channel(tenant, "whatsapp")
    conversation = _conversation(tenant, channel, wrote_ago=None)
    with pytest.raises(DeliverySkipped) as skip:
        channel_send(channel=channel, outbound=Outbound(recipient="62", bubbles=["hi"], conversation=conversation))
    assert skip.value.reason == "whatsapp_window_closed"
    assert whatsapp_api.sent == []


def test_it_disables_whatsapp_on_an_invalid_access_token(tenant, make_channel, whatsapp_api):
    channel = make_channel(tenant, "whatsapp", secrets={"access_token": "expired"})
    conversation = _conversation(tenant, channel, wrote_ago=dt.timedelta(minutes=1))
    with pytest.raises(TransportError):
        channel_send(channel=channel, outbound=Outbound(recipient="62", bubbles=["hi"], conversation=conversation))
    assert not Channel.objects.get().enabled


def test_it_sends_a_test_message_from_the_admin(tenant, make_channel, telegram_api, admin_client):
    channel = make_channel(tenant, "telegram", config={"test_recipient": "5550001"})
    Channel.objects.filter(pk=channel.pk).update(last_error="old failure")
    resp = admin_client.post(
        "/admin/chat/channel/", {"action": "send_test_message", "_selected_action": [channel.pk]}, follow=True
    )
    assert resp.status_code == 200
    assert [m["chat_id"] for m in telegram_api.sent] == ["5550001"]
    assert Channel.objects.get().last_error == ""
    assert admin_client.get(f"/admin/chat/channel/{channel.pk}/change/").status_code == 200


def test_it_records_the_last_error_of_a_failed_test_message(tenant, make_channel, telegram_api):
    channel = make_channel(tenant, "telegram")
    telegram_api.fail_next.append(
        Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    )
    with pytest.raises(TransportError):
        channel_send_test(channel=channel)
    assert "chat not found" in Channel.objects.get().last_error
