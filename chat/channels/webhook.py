"""Generic signed webhook: replies are POSTed to the tenant's URL and inbound messages
are POSTed to us, both signed the Standard Webhooks way with the channel's secret.

Outbound body: ``{"type": "message.created", "data": {"reference", "conversation_id",
"user_id", "bubbles": [...], "text"}}``; ``webhook-id`` is ``reference`` (stable across
retries, so receivers can drop duplicates). Inbound body: ``{"type": "message.received",
"data": {"id", "user_id", "text", "name"?}}``; ``data.id`` (or else ``webhook-id``)
identifies the message for de-duplication.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest
from django.utils import timezone

from chat.channels.base import ConfigError, InboundMessage, InboundRejected, Outbound, Transport
from siganteng import webhooks


class WebhookTransport(Transport):
    kind = "webhook"
    generated_secrets = ("signing_secret",)
    idempotent = True  # the stable webhook-id lets the receiver drop a resend

    @classmethod
    def clean_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict, dict]:
        url = config.get("url", "")
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ConfigError({"config.url": "An http(s) URL to POST replies to is required."}) from None
        secret = secrets.get("signing_secret") or webhooks.new_secret()
        if not isinstance(secret, str) or len(secret) < 16:
            raise ConfigError({"secrets.signing_secret": "At least 16 characters."})
        return {**config, "url": url}, {**secrets, "signing_secret": secret}

    def deliver(self, out: Outbound, *, start: int = 0, on_sent=None) -> list[str]:
        """All bubbles go in one signed request: the receiving system renders them."""
        msg_id = out.reference or f"msg_{uuid.uuid4().hex}"
        payload = {
            "type": "message.created",
            "timestamp": timezone.now().isoformat(),
            "data": {
                "reference": out.reference,
                "channel_id": str(self.channel.pk),
                "conversation_id": str(out.conversation.pk) if out.conversation is not None else None,
                "user_id": out.recipient,
                "bubbles": out.bubbles[start:],
                "text": "\n\n".join(out.bubbles[start:]),
                **({"metadata": out.metadata} if out.metadata else {}),
            },
        }
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            **webhooks.signed_headers(self.secrets["signing_secret"], msg_id, body),
        }
        self.call("POST", self.config["url"], content=body, headers=headers)
        ids = [f"{msg_id}:{i}" for i in range(start, len(out.bubbles))]
        if on_sent is not None:
            for offset, provider_id in enumerate(ids):
                on_sent(start + offset, provider_id)
        return ids

    def verify(self, request: HttpRequest, body: bytes) -> None:
        secret = self.secrets.get("signing_secret", "")
        if not secret:
            raise InboundRejected("The channel has no signing secret.", status=403)
        try:
            webhooks.verify(secret, dict(request.headers), body)
        except webhooks.WebhookVerificationError as exc:
            raise InboundRejected(f"Bad signature: {exc}.", status=401) from None

    def parse(self, request: HttpRequest, payload: Any) -> list[InboundMessage]:
        data = payload.get("data", payload) if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return []
        text, user_id = data.get("text"), data.get("user_id")
        if not (isinstance(text, str) and text.strip() and user_id not in (None, "")):
            return []
        external_id = str(data.get("id") or request.headers.get("webhook-id", ""))
        return [
            InboundMessage(
                external_id=external_id, user_id=str(user_id), text=text, name=str(data.get("name") or ""), raw=payload
            )
        ]
