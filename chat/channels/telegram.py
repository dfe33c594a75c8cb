"""Telegram Bot API: ``sendMessage`` per bubble with ``sendChatAction`` (typing) between
bubbles; inbound updates arrive on the channel's webhook URL with the secret token we
gave ``setWebhook`` in the ``X-Telegram-Bot-Api-Secret-Token`` header.

Answers carry 👍/👎 inline buttons under their last bubble (``config.feedback_buttons``,
on unless false); a tap arrives as a ``callback_query`` on the same verified webhook.

Secrets: ``bot_token`` (required), ``secret_token`` (generated when absent).
The base URL is ``settings.TELEGRAM_API_BASE``.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets as pysecrets
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from chat.channels.base import (
    ConfigError,
    InboundMessage,
    InboundRating,
    InboundRejected,
    Outbound,
    Transport,
    TransportError,
    parse_rating_payload,
    rating_payload,
)
from siganteng.http import OutboundError

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramTransport(Transport):
    kind = "telegram"
    generated_secrets = ("secret_token",)

    @classmethod
    def clean_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict, dict]:
        token = secrets.get("bot_token", "")
        if not (isinstance(token, str) and _TOKEN.match(token)):
            raise ConfigError({"secrets.bot_token": "A bot token like '123456:ABC-DEF...' from @BotFather."})
        secret = secrets.get("secret_token") or pysecrets.token_urlsafe(32)
        if not (isinstance(secret, str) and _SECRET.match(secret)):
            raise ConfigError({"secrets.secret_token": "1-256 characters of A-Z, a-z, 0-9, _ and -."})
        return config, {**secrets, "bot_token": token, "secret_token": secret}

    def _url(self, method: str) -> str:
        return f"{settings.TELEGRAM_API_BASE}/bot{self.secrets['bot_token']}/{method}"

    def send_text(self, out: Outbound, text: str, *, index: int) -> str:
        body: dict[str, Any] = {"chat_id": out.recipient, "text": text}
        if self.config.get("parse_mode"):
            body["parse_mode"] = self.config["parse_mode"]
        if out.rate_message_id and index == len(out.bubbles) - 1 and self.config.get("feedback_buttons", True):
            body["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {"text": "👍", "callback_data": rating_payload("up", out.rate_message_id)},
                        {"text": "👎", "callback_data": rating_payload("down", out.rate_message_id)},
                    ]
                ]
            }
        result = self.call("POST", self._url("sendMessage"), json=body).json()
        if not result.get("ok"):
            raise TransportError(f"Telegram refused the message: {result.get('description')}", permanent=True)
        return str(result["result"]["message_id"])

    def typing(self, out: Outbound) -> None:
        try:
            self.call("POST", self._url("sendChatAction"), json={"chat_id": out.recipient, "action": "typing"})
        except TransportError as exc:  # cosmetic: a missing indicator must not fail the delivery
            logger.info("telegram typing indicator failed for channel %s: %s", self.channel.pk, exc)

    def map_error(self, exc: OutboundError) -> TransportError:
        error = super().map_error(exc)
        # 400 "chat not found" and 403 "bot was blocked by the user" concern one
        # recipient; only 401 (revoked token) and 404 (no such bot) break the channel.
        error.disable = error.permanent and (exc.status in (401, 404) or exc.kind in ("private_address", "bad_url"))
        return error

    def verify(self, request: HttpRequest, body: bytes) -> None:
        expected = self.secrets.get("secret_token", "")
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise InboundRejected("Missing or wrong X-Telegram-Bot-Api-Secret-Token.", status=403)

    def parse_ratings(self, request: HttpRequest, payload: Any) -> list[InboundRating]:
        query = payload.get("callback_query") if isinstance(payload, dict) else None
        if not isinstance(query, dict):
            return []
        parsed = parse_rating_payload(query.get("data"))
        chat = (query.get("message") or {}).get("chat") or {}
        sender = query.get("from") or {}
        user_id = chat.get("id", sender.get("id"))
        if parsed is None or user_id is None:
            return []
        return [
            InboundRating(user_id=str(user_id), value=parsed[0], message_id=parsed[1], ack_id=str(query.get("id", "")))
        ]

    def acknowledge_rating(self, rating: InboundRating) -> None:
        # Telegram shows a spinner on the button until the query is answered.
        try:
            self.call(
                "POST",
                self._url("answerCallbackQuery"),
                json={"callback_query_id": rating.ack_id, "text": "Thank you for the feedback!"},
            )
        except TransportError as exc:  # cosmetic, as the typing indicator
            logger.info("telegram callback answer failed for channel %s: %s", self.channel.pk, exc)

    def parse(self, request: HttpRequest, payload: Any) -> list[InboundMessage]:
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            return []  # edits, joins, stickers, callbacks: nothing to answer
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        if "id" not in chat or "message_id" not in message:
            return []
        name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p)
        return [
            InboundMessage(
                external_id=f"{chat['id']}:{message['message_id']}",
                user_id=str(chat["id"]),
                text=message["text"],
                name=name,
                raw=payload,
            )
        ]
