"""The API's JSON parser: DRF's, plus refusals that would otherwise be 500s.

- Nesting deep enough to exhaust Python's recursion limit (``[[[[...`` a few thousand
  deep) raises ``RecursionError`` inside ``json.loads``, which DRF does not catch.
- JSON may escape an unpaired UTF-16 surrogate (``"\\ud800"``). Python decodes it into a
  ``str`` that cannot be encoded again, so the value crashes whatever touches it next: the
  response renderer when a validation message echoes it (choice fields do), the database
  driver, an outbound request.
- A NUL character (``"\\u0000"``) anywhere in the document: PostgreSQL stores it neither in
  text nor in ``jsonb`` ("unsupported Unicode escape sequence"), so a NUL inside a JSON
  field (a channel's config, a tool's parameters, metadata) failed only on PostgreSQL.
  DRF's CharField already refuses NUL at the top level; this covers nested values and keys.

All are malformed input, answered 400 before any view code runs; text problems name the
offending value's path (``config.k``, ``messages.0.content``) like any validation error.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError


def find_unstorable_text(data: Any) -> tuple[str, str] | None:
    """``(path, reason)`` of the first string (value or key) that cannot be stored, else None.

    Iterative, because the document can be deep."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "non_field_errors", "Null characters are not allowed."
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return path or "non_field_errors", "Unpaired surrogate characters are not allowed (invalid Unicode)."
        elif isinstance(item, dict):
            for key, value in item.items():
                child = f"{path}.{key}" if path else str(key)
                stack.append((child, key))
                stack.append((child, value))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), value) for i, value in enumerate(item))
    return None


def has_unstorable_text(data: Any) -> bool:
    """True when some text in ``data`` cannot be stored (an unpaired surrogate or a NUL)."""
    return find_unstorable_text(data) is not None


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        problem = find_unstorable_text(data)
        if problem is not None:
            path, reason = problem
            # The same as siganteng.errors.field_error (not imported: errors imports DRF's views,
            # which import this module through the parser setting).
            raise ValidationError({path: [reason]}, code="invalid")
        return data
