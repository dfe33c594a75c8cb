"""Local stand-ins for the providers, speaking their wire formats (request and response
shapes from the Telegram Bot API and WhatsApp Cloud API references), plus helpers that
sign inbound requests the way the providers do."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections import Counter

from siganteng.testing import Recorded, Reply

BOT_TOKEN = "123456789:AAE-test_token_0123456789abcdefghi"


class TelegramAPI:
    """``POST /bot<token>/sendMessage`` → ``{"ok": true, "result": Message}``;
    ``sendChatAction`` → ``{"ok": true, "result": true}``; wrong token → 401."""

    def __init__(self, token: str = BOT_TOKEN):
        self.token = token
        self.ids = itertools.count(1000)
        self.sent: list[dict] = []  # sendMessage bodies in arrival order
        self.calls: list[str] = []  # method names in arrival order
        self.answered: list[dict] = []  # answerCallbackQuery bodies
        self.fail_next: list[Reply] = []
        self._lock = threading.Lock()

    def __call__(self, req: Recorded) -> Reply:
        prefix, _, method = req.path.lstrip("/").partition("/")
        if prefix != f"bot{self.token}":
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        with self._lock:
            self.calls.append(method)
            if self.fail_next:
                return self.fail_next.pop(0)
            body = req.json()
            if method in ("sendChatAction", "answerCallbackQuery"):
                if method == "answerCallbackQuery":
                    self.answered.append(body)
                return Reply(200, {"ok": True, "result": True})
            if method != "sendMessage":
                return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            self.sent.append(body)
            message_id = next(self.ids)
        return Reply(
            200,
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "date": 1700000000,
                    "text": body["text"],
                    "chat": {"id": int(body["chat_id"]), "type": "private"},
                    "from": {"id": 123456789, "is_bot": True, "first_name": "Sari", "username": "sari_bot"},
                },
            },
        )


class WhatsAppAPI:
    """``POST /{version}/{phone_number_id}/messages`` with a Bearer token →
    ``{"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}``."""

    def __init__(self, token: str = "EAAG-test-access-token", phone_number_id: str = "106540352242922"):
        self.token = token
        self.phone_number_id = phone_number_id
        self.ids = itertools.count(1)
        self.sent: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, req: Recorded) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                401,
                {
                    "error": {
                        "message": "Invalid OAuth access token.",
                        "type": "OAuthException",
                        "code": 190,
                        "fbtrace_id": "Afake",
                    }
                },
            )
        parts = req.path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != self.phone_number_id or parts[2] != "messages":
            return Reply(
                400, {"error": {"message": "Unsupported post request.", "type": "GraphMethodException", "code": 100}}
            )
        body = req.json()
        with self._lock:
            self.sent.append(body)
            wamid = f"wamid.HBgL{next(self.ids):08d}"
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            },
        )


class CountingWebhook:
    """A tenant's webhook receiver counting deliveries per ``webhook-id``."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, req: Recorded) -> Reply:
        with self._lock:
            self.counts[req.headers.get("webhook-id", "")] += 1
            self.bodies.append(req.json())
        return Reply(204)


def telegram_update(*, update_id: int, message_id: int, chat_id: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1700000000,
            "text": text,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Budi", "language_code": "en"},
            "chat": {"id": chat_id, "first_name": "Budi", "type": "private"},
        },
    }


def telegram_callback(*, update_id: int, chat_id: int, data: str, query_id: str = "4382bfdwdsb323b2d9") -> dict:
    """An update carrying a ``callback_query``: a tap on an inline keyboard button."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Budi"},
            "message": {"message_id": 1001, "date": 1700000000, "chat": {"id": chat_id, "type": "private"}},
            "chat_instance": "-8167713826453547000",
            "data": data,
        },
    }


def whatsapp_button_reply(*, wamid: str, wa_id: str, button_id: str, title: str) -> dict:
    """A webhook carrying a tap on an interactive message's reply button."""
    body = whatsapp_webhook(wamid=wamid, wa_id=wa_id, text="")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text", None)
    message["type"] = "interactive"
    message["interactive"] = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return body


def whatsapp_webhook(*, wamid: str, wa_id: str, text: str, phone_number_id: str = "106540352242922") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                            "contacts": [{"profile": {"name": "Budi"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": "1700000000",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def hub_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def dumps(payload: dict) -> bytes:
    return json.dumps(payload).encode()
