"""A stricter JSON parser: what json.loads lets through but this API must not accept.

DRF's JSONParser already refuses NaN/Infinity (STRICT_JSON). On top of that:

- duplicate keys (`{"patient": A, "patient": B}`) are refused: Python keeps the last one, a
  proxy, a log or an audit tool may keep the first, so the request would mean two things;
- lone UTF-16 surrogates (`"\\ud800"`) are refused: they are valid JSON escapes but no text;
  accepted, they fail later when a response or a row is encoded (a 500), or get stored;
- NUL characters (`"\\u0000"`) in any string are refused: no clinical text holds one,
  PostgreSQL cannot store one, and a parser that stops at it (dates, e-mails) reads another
  value than the one sent.

Each is a 400 parse_error, like any malformed JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

# A \u escape of NUL or in the surrogate range (D800-DFFF; pairs are fine, lone ones are not).
# Raw control characters are invalid JSON already: only escapes can bring these in.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class DuplicateKey(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"duplicate key {key[:40]!r}")
            seen.add(key)
    return obj


def _has_bad_string(value: Any) -> bool:
    """Whether a string (key or value) anywhere in `value` holds NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
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


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
            data = json.loads(
                text, parse_constant=strict_constant, object_pairs_hook=_unique_object
            )
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        if _SUSPECT_ESCAPE.search(text) and _has_bad_string(data):
            raise ParseError("JSON parse error - a string holds NUL or a lone UTF-16 surrogate.")
        return data
