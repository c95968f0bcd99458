"""The Interpretation as JSON data: what ``cbc-ranges check --format json`` prints.

The data is ``Interpretation.model_dump(mode="json")``: every field, in the
shape ``cbc-ranges schema`` describes, so ``Interpretation.model_validate``
reads it back. Floats that JSON cannot hold (a hand-built result with an
infinite limit) are written as ``null`` rather than as ``Infinity``, which is
not JSON.

>>> from cbc_ranges import interpret
>>> data = render(interpret("12.5", "G/L", age=33, sex="m"))
>>> data["flag"], data["code"], data["count"]["value"]
('high', 'H', 12.5)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation

__all__ = ["render"]


def render(result: Interpretation) -> dict[str, Any]:
    """Every field of the interpretation as plain JSON data (a ``dict``)."""
    data: dict[str, Any] = _finite(result.model_dump(mode="json"))
    return data


def _finite(value: Any) -> Any:
    # pydantic writes inf and nan as floats in mode="json"; strict JSON has no word for them
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
