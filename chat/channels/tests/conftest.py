"""Fixtures for the channel suite: provider stand-ins on local servers, channels bound to
them, and a small knowledge base so replies have something to say."""

from __future__ import annotations

import pytest

from chat.channels.tests.fakes import BOT_TOKEN, TelegramAPI, WhatsAppAPI
from siganteng.testing import LocalServer

WEBHOOK_SECRET = "whsec_dGVzdHNlY3JldDAxMjM0NTY3ODk="

DOCS = [
    (
        "shipping",
        "Shipping",
        "We ship to all of Indonesia. Orders to Jakarta arrive in 1-2 days. Shipping to Bali takes 3-4 days. "
        "Express shipping costs Rp 25.000 extra.",
    ),
    (
        "returns",
        "Returns",
        "Returns are accepted within 7 days of delivery when the item is unused. "
        "Refunds are handled by our staff, never by the chat assistant.",
    ),
]


@pytest.fixture
def kb_docs():
    """The documents ``kb(tenant)`` indexes for this suite."""
    return DOCS


@pytest.fixture
def telegram_api(settings, allow_private):
    api = TelegramAPI()
    with LocalServer(api) as server:
        settings.TELEGRAM_API_BASE = server.url
        api.server = server
        yield api


@pytest.fixture
def whatsapp_api(settings, allow_private):
    api = WhatsAppAPI()
    with LocalServer(api) as server:
        settings.WHATSAPP_API_BASE = server.url
        api.server = server
        yield api


@pytest.fixture
def make_channel(db):
    from chat.channels.services import channel_create

    def _make(tenant, kind: str, **kw):
        defaults = {
            "telegram": ({}, {"bot_token": BOT_TOKEN, "secret_token": "tg-secret-0123456789"}),
            "whatsapp": (
                {"phone_number_id": "106540352242922"},
                {"access_token": "EAAG-test-access-token", "app_secret": "app-secret-xyz", "verify_token": "verify-me"},
            ),
            "webhook": ({"url": "http://127.0.0.1:9/hook"}, {"signing_secret": WEBHOOK_SECRET}),
        }[kind]
        config = {**defaults[0], **kw.pop("config", {})}
        secrets = {**defaults[1], **kw.pop("secrets", {})}
        channel, _generated = channel_create(
            tenant=tenant, kind=kind, name=kw.pop("name", kind), config=config, secrets=secrets, **kw
        )
        return channel

    return _make
