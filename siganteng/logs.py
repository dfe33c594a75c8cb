"""Log formatting: JSON lines (production) or readable lines (development), both redacted.

Every line is redacted after it is formatted (message, arguments and any traceback
together), because a secret reaches a log line by many roads: an exception's text, a
URL in a warning, a library's debug line. What is masked:

- tenant API keys (``sgt_<prefix>_<secret>``: the public prefix stays, the secret goes)
  and the platform key (``ADMIN_API_KEY``);
- bearer tokens and Telegram bot tokens (``123456:ABC…``, which sit in Telegram's URLs);
- the secret path segment of channel webhooks (``/channels/<kind>/<token>/``);
- runs of 9 to 15 digits, with or without ``+``: customer phone numbers (WhatsApp ids are
  phone numbers) and Telegram chat ids.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

_MASK = "[redacted]"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(sgt_[a-z0-9]{12}_)[A-Za-z0-9_-]+"), r"\1" + _MASK),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + _MASK),
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}"), _MASK),
    (re.compile(r"(/channels/[a-z0-9_-]+/)[^/\s\"']+"), r"\1" + _MASK),
    (re.compile(r"(?<![\w.:/-])\+?\d{9,15}(?![\w.:-])"), _MASK),
]


def redact(text: str) -> str:
    """``text`` with API keys, tokens, webhook secrets and phone numbers masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    admin_key = getattr(settings, "ADMIN_API_KEY", "")
    if admin_key and admin_key in text:
        text = text.replace(admin_key, _MASK)
    return text


class PlainFormatter(logging.Formatter):
    """Readable lines: time, level, logger, [request id], message."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``request_id``,
    ``message``, plus any ``extra={...}`` fields and ``exc_info`` when there is one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
