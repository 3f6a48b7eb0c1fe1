"""orjson rendering: the same JSON as DRF's renderer, several times faster on lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return str(value)  # lazy translation strings and other str-likes


class ORJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(
            data, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z
        )
