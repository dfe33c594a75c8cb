"""WhatsApp Cloud API: text messages inside the 24-hour customer-service window, an
approved template message outside it; inbound webhooks verified by the ``hub.*`` GET
handshake and the ``X-Hub-Signature-256`` HMAC of the raw body with the app secret.

Config: ``phone_number_id`` (required), ``template`` (optional ``{"name", "language"}``,
an approved template whose body has one ``{{1}}`` parameter that receives the text),
``api_version`` (optional, else ``settings.WHATSAPP_API_VERSION``), ``feedback_buttons``
(optional, false by default: the last bubble of an answer becomes an interactive message
with 👍/👎 reply buttons, whose taps come back as ``button_reply`` messages).
Secrets: ``access_token``, ``app_secret`` (required), ``verify_token`` (generated).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets as pysecrets
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chat.channels.base import (
    ConfigError,
    DeliverySkipped,
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

WINDOW = dt.timedelta(hours=24)
WINDOW_CLOSED = "whatsapp_window_closed"
_TOKEN_ERRORS = {190}  # OAuthException: access token expired or revoked


def window_open(conversation, now: dt.datetime | None = None) -> bool:
    """Whether the customer wrote within the last 24 hours (free-form messages allowed)."""
    last = getattr(conversation, "last_customer_message_at", None)
    return last is not None and (now or timezone.now()) - last < WINDOW


class WhatsAppTransport(Transport):
    kind = "whatsapp"
    generated_secrets = ("verify_token",)

    @classmethod
    def clean_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict, dict]:
        errors = {}
        phone = str(config.get("phone_number_id", ""))
        if not phone.isdigit():
            errors["config.phone_number_id"] = "The numeric phone number id from the WhatsApp Manager."
        template = config.get("template")
        if template not in (None, {}) and not (
            isinstance(template, dict) and isinstance(template.get("name"), str) and template["name"]
        ):
            errors["config.template"] = 'Either absent or {"name": "...", "language": "en_US"}.'
        version = config.get("api_version", "")
        if version and not re.match(r"^v\d+\.\d+$", str(version)):
            errors["config.api_version"] = "Like 'v21.0'."
        if not isinstance(config.get("feedback_buttons", False), bool):
            errors["config.feedback_buttons"] = "true or false."
        for key in ("access_token", "app_secret"):
            if not (isinstance(secrets.get(key), str) and secrets[key]):
                errors[f"secrets.{key}"] = "Required."
        if errors:
            raise ConfigError(errors)
        cleaned = {**config, "phone_number_id": phone}
        if template:
            cleaned["template"] = {"name": template["name"], "language": template.get("language") or "en_US"}
        return cleaned, {**secrets, "verify_token": secrets.get("verify_token") or pysecrets.token_urlsafe(24)}

    def _url(self) -> str:
        version = self.config.get("api_version") or settings.WHATSAPP_API_VERSION
        return f"{settings.WHATSAPP_API_BASE}/{version}/{self.config['phone_number_id']}/messages"

    def _post(self, body: dict[str, Any]) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **body}
        result = self.call(
            "POST", self._url(), json=body, headers={"Authorization": f"Bearer {self.secrets['access_token']}"}
        ).json()
        return str(result["messages"][0]["id"])

    def deliver(self, out: Outbound, *, start: int = 0, on_sent=None) -> list[str]:
        if window_open(out.conversation):
            return super().deliver(out, start=start, on_sent=on_sent)
        template = self.config.get("template")
        if not template:
            raise DeliverySkipped(WINDOW_CLOSED, "The 24-hour window is closed and the channel has no template.")
        # Template parameters may not contain newlines or tabs: the bubbles become one line.
        text = " ".join(" ".join(b.split()) for b in out.bubbles[start:])
        provider_id = self._post(
            {
                "to": out.recipient,
                "type": "template",
                "template": {
                    "name": template["name"],
                    "language": {"code": template.get("language", "en_US")},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": text}]}],
                },
            }
        )
        if on_sent is not None:
            for index in range(start, len(out.bubbles)):
                on_sent(index, provider_id)
        return [provider_id]

    def send_text(self, out: Outbound, text: str, *, index: int) -> str:
        if (
            out.rate_message_id
            and index == len(out.bubbles) - 1
            and self.config.get("feedback_buttons")
            and len(text) <= _INTERACTIVE_BODY_MAX
        ):
            buttons = [
                {"type": "reply", "reply": {"id": rating_payload(value, out.rate_message_id), "title": title}}
                for value, title in (("up", "👍"), ("down", "👎"))
            ]
            return self._post(
                {
                    "to": out.recipient,
                    "type": "interactive",
                    "interactive": {"type": "button", "body": {"text": text}, "action": {"buttons": buttons}},
                }
            )
        return self._post({"to": out.recipient, "type": "text", "text": {"preview_url": False, "body": text}})

    def map_error(self, exc: OutboundError) -> TransportError:
        error = super().map_error(exc)
        code = None
        snippet = str(exc)
        if '"code":' in snippet:
            match = re.search(r'"code":\s*(\d+)', snippet)
            code = int(match.group(1)) if match else None
        error.disable = error.permanent and (
            exc.status == 401 or code in _TOKEN_ERRORS or exc.kind in ("private_address", "bad_url")
        )
        return error

    def handshake(self, request: HttpRequest) -> HttpResponse:
        expected = self.secrets.get("verify_token", "")
        given = request.GET.get("hub.verify_token", "")
        if request.GET.get("hub.mode") != "subscribe" or not expected or not hmac.compare_digest(given, expected):
            return HttpResponse("verify token mismatch", status=403, content_type="text/plain")
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")

    def verify(self, request: HttpRequest, body: bytes) -> None:
        header = request.headers.get("X-Hub-Signature-256", "")
        if not header.startswith("sha256="):
            raise InboundRejected("Missing X-Hub-Signature-256.", status=401)
        expected = hmac.new(self.secrets.get("app_secret", "").encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(header[len("sha256=") :], expected):
            raise InboundRejected("X-Hub-Signature-256 does not match the body.", status=403)

    def parse_ratings(self, request: HttpRequest, payload: Any) -> list[InboundRating]:
        found = []
        for msg in _messages(payload):
            reply = (msg.get("interactive") or {}).get("button_reply") if msg.get("type") == "interactive" else None
            parsed = parse_rating_payload((reply or {}).get("id"))
            if parsed and msg.get("from"):
                found.append(InboundRating(user_id=str(msg["from"]), value=parsed[0], message_id=parsed[1]))
        return found

    def parse(self, request: HttpRequest, payload: Any) -> list[InboundMessage]:
        found = []
        for entry in payload.get("entry", []) if isinstance(payload, dict) else []:
            for change in entry.get("changes", []) if isinstance(entry, dict) else []:
                value = change.get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                names = {
                    c.get("wa_id"): (c.get("profile") or {}).get("name", "")
                    for c in value.get("contacts", [])
                    if isinstance(c, dict)
                }
                for msg in value.get("messages", []):
                    if not isinstance(msg, dict) or msg.get("type") != "text":
                        continue  # statuses, media, reactions: nothing to answer
                    body = (msg.get("text") or {}).get("body")
                    if not (isinstance(body, str) and msg.get("id") and msg.get("from")):
                        continue
                    found.append(
                        InboundMessage(
                            external_id=msg["id"],
                            user_id=str(msg["from"]),
                            text=body,
                            name=names.get(msg["from"], "") or "",
                            raw=msg,
                        )
                    )
        return found


_INTERACTIVE_BODY_MAX = 1024  # an interactive message's body text, per the Cloud API reference


def _messages(payload: Any) -> list[dict]:
    """Every message object in a webhook payload (``entry[].changes[].value.messages[]``)."""
    found = []
    for entry in payload.get("entry", []) if isinstance(payload, dict) else []:
        for change in entry.get("changes", []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                found.extend(m for m in value.get("messages", []) if isinstance(m, dict))
    return found
