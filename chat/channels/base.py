"""What every channel transport is: send bubbles out, verify and parse what comes in.

A transport wraps one :class:`chat.models.Channel` row. Outbound calls go through
:func:`siganteng.http.fetch` (timeouts, private-address guard) with ``retries=0``: the
follow-up dispatcher owns retrying, because it knows which bubbles already went out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse

from siganteng.http import HttpResult, OutboundError, fetch


class TransportError(Exception):
    """A failed delivery. ``permanent`` errors (bad token, unknown chat) disable the
    channel; transient ones (network, 5xx, 429) are retried with backoff. ``ambiguous``
    means the request may have reached the provider (a timeout), so sending again could
    duplicate the message."""

    def __init__(
        self, message: str, *, permanent: bool, ambiguous: bool = False, disable: bool = False, code: str = "error"
    ):
        super().__init__(message)
        self.permanent = permanent
        self.ambiguous = ambiguous
        # The channel itself is broken (revoked token, refused URL), not just this one
        # recipient (blocked bot, unknown chat): disable it until staff fix it.
        self.disable = disable and permanent
        self.code = code


class DeliverySkipped(Exception):
    """The message must not be sent at all (for example WhatsApp's 24-hour window is
    closed and the channel has no approved template). ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason


class InboundRejected(Exception):
    """An inbound request failed verification: answer ``status`` and store nothing."""

    def __init__(self, message: str, *, status: int = 403):
        super().__init__(message)
        self.status = status


class ConfigError(Exception):
    """Invalid channel configuration; ``fields`` maps the offending key to a message."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass
class InboundMessage:
    """One customer message taken from a provider's webhook payload."""

    external_id: str
    user_id: str
    text: str
    name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class InboundRating:
    """A customer's tap on a 👍/👎 button under an answer (see :func:`rating_payload`)."""

    user_id: str
    message_id: str
    value: str  # "up" or "down"
    ack_id: str = ""  # the provider's id for the tap, when it wants an acknowledgement


RATING_PREFIX = "fb"


def rating_payload(value: str, message_id: str) -> str:
    """The id a rating button carries back (``fb:up:<message id>``): 42 characters, within
    Telegram's 64-byte ``callback_data`` and WhatsApp's 256-character button id."""
    return f"{RATING_PREFIX}:{value}:{message_id}"


def parse_rating_payload(data: Any) -> tuple[str, str] | None:
    """``(value, message_id)`` from a button's payload, or None for anything else."""
    if not isinstance(data, str):
        return None
    prefix, _, rest = data.partition(":")
    value, _, message_id = rest.partition(":")
    if prefix != RATING_PREFIX or value not in ("up", "down") or not message_id:
        return None
    return value, message_id


@dataclass
class Outbound:
    """What to deliver: ``bubbles`` in order to ``recipient`` (the channel's user id)."""

    recipient: str
    bubbles: list[str]
    conversation: Any = None  # chat.models.Conversation, for window checks and payloads
    reference: str = ""  # a stable id (follow-up or message id) receivers can dedupe on
    # The stored answer these bubbles carry: transports that can show rating buttons put
    # them under the last bubble (empty: no buttons, e.g. follow-ups and tests).
    rate_message_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


OnSent = Callable[[int, str], None]


class Transport:
    """Base class: one subclass per provider module, registered in ``registry.TRANSPORTS``."""

    kind: ClassVar[str] = ""
    #: Secrets generated when the caller does not supply them (shown once on create).
    generated_secrets: ClassVar[tuple[str, ...]] = ()
    #: Whether resending after an ambiguous failure is safe (the receiver dedupes).
    idempotent: ClassVar[bool] = False

    def __init__(self, channel):
        self.channel = channel
        self.config: dict[str, Any] = channel.config or {}
        self.secrets: dict[str, Any] = channel.secrets or {}

    # --- configuration -------------------------------------------------------------
    @classmethod
    def clean_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict, dict]:
        """Validate and normalise; raise :class:`ConfigError` naming the bad keys."""
        return config, secrets

    # --- outbound ------------------------------------------------------------------
    def deliver(self, out: Outbound, *, start: int = 0, on_sent: OnSent | None = None) -> list[str]:
        """Send ``out.bubbles[start:]`` in order; call ``on_sent(index, provider_id)`` after
        each so a retry resumes after the last bubble that went out. Returns the ids."""
        ids = []
        for index in range(start, len(out.bubbles)):
            if index > 0:
                self.typing(out)
            provider_id = self.send_text(out, out.bubbles[index], index=index)
            ids.append(provider_id)
            if on_sent is not None:
                on_sent(index, provider_id)
        return ids

    def send_text(self, out: Outbound, text: str, *, index: int) -> str:
        raise NotImplementedError

    def typing(self, out: Outbound) -> None:
        """Show a typing indicator between bubbles, where the provider has one."""

    # --- inbound -------------------------------------------------------------------
    def parse_ratings(self, request: HttpRequest, payload: Any) -> list[InboundRating]:
        """Taps on rating buttons in a verified payload; transports without buttons have none."""
        return []

    def acknowledge_rating(self, rating: InboundRating) -> None:
        """Tell the provider the tap was received, where it waits for that (Telegram)."""

    def verify(self, request: HttpRequest, body: bytes) -> None:
        """Raise :class:`InboundRejected` unless the request comes from the provider."""
        raise InboundRejected("This channel does not accept inbound messages.", status=404)

    def handshake(self, request: HttpRequest) -> HttpResponse:
        """Answer a GET on the inbound URL (WhatsApp's subscription check)."""
        return HttpResponse(status=405)

    def parse(self, request: HttpRequest, payload: Any) -> list[InboundMessage]:
        """The customer text messages in a verified payload (others are ignored)."""
        return []

    # --- helpers -------------------------------------------------------------------
    def call(self, method: str, url: str, **kwargs: Any) -> HttpResult:
        """One outbound request, with provider errors mapped to :class:`TransportError`."""
        from django.conf import settings

        kwargs.setdefault("timeout", settings.CHANNEL_TIMEOUT)
        try:
            return fetch(method, url, retries=0, **kwargs)
        except OutboundError as exc:
            raise self.map_error(exc) from None

    def map_error(self, exc: OutboundError) -> TransportError:
        """Provider-specific reading of a failed call; the default trusts the status."""
        return TransportError(
            str(exc),
            permanent=exc.permanent,
            ambiguous=exc.kind == "timeout",
            disable=exc.kind in ("private_address", "bad_url") or exc.status in (401, 403),
            code=exc.kind if exc.status is None else f"http_{exc.status}",
        )
