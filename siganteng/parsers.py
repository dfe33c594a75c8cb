"""The API's JSON parser: DRF's, plus two refusals that would otherwise be 500s.

- Nesting deep enough to exhaust Python's recursion limit (``[[[[...`` a few thousand
  deep) raises ``RecursionError`` inside ``json.loads``, which DRF does not catch.
- JSON may escape an unpaired UTF-16 surrogate (``"\\ud800"``). Python decodes it into a
  ``str`` that cannot be encoded again, so the value crashes whatever touches it next: the
  response renderer when a validation message echoes it (choice fields do), the database
  driver, an outbound request.

Both are malformed input: answered 400 ``parse_error`` before any view code runs.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def has_unpaired_surrogate(data: Any) -> bool:
    """Walk the parsed document iteratively (it can be deep) looking for unencodable text."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if has_unpaired_surrogate(data):
            raise ParseError("JSON parse error - text contains an unpaired surrogate (invalid Unicode).")
        return data
