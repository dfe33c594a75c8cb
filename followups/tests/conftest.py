"""The channel suite's provider stand-ins and channel factory, shared here."""

from chat.channels.tests.conftest import kb_docs, make_channel, telegram_api, whatsapp_api  # noqa: F401
