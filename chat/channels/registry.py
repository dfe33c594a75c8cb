"""The channel kinds: ``kind → (dotted path of the Transport class, label)``.

This one dict feeds the transports, the API's choices and the admin; adding a provider
is a module plus a line here.
"""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

TRANSPORTS: dict[str, tuple[str, str]] = {
    "webhook": ("chat.channels.webhook.WebhookTransport", "Signed webhook"),
    "telegram": ("chat.channels.telegram.TelegramTransport", "Telegram"),
    "whatsapp": ("chat.channels.whatsapp.WhatsAppTransport", "WhatsApp Cloud API"),
}


def choices() -> list[tuple[str, str]]:
    return [(kind, label) for kind, (_path, label) in TRANSPORTS.items()]


@cache
def transport_class(kind: str):
    """The Transport subclass for ``kind``; ``KeyError`` for an unknown kind."""
    return import_string(TRANSPORTS[kind][0])


def transport_for(channel):
    """A transport instance bound to ``channel`` (a chat.models.Channel row)."""
    return transport_class(channel.kind)(channel)
