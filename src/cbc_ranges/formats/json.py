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

:func:`schema` is the JSON Schema of that data, which ``cbc-ranges schema``
prints: ``Interpretation.model_json_schema()`` with the dialect (``$schema``,
draft 2020-12) and an ``$id`` naming the library and its version.

>>> schema()["$id"]
'https://cbc-ranges.invalid/schemas/0.1.0/interpretation.json'
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation

__all__ = ["JSON_SCHEMA_DIALECT", "render", "schema", "schema_id"]

#: the JSON Schema dialect of :func:`schema` (pydantic writes draft 2020-12)
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def render(result: Interpretation) -> dict[str, Any]:
    """Every field of the interpretation as plain JSON data (a ``dict``)."""
    data: dict[str, Any] = _finite(result.model_dump(mode="json"))
    return data


def schema_id(version: str | None = None) -> str:
    """The ``$id`` of the schema of a version of cbc-ranges (this one by default).

    The library's own URI: ``.invalid`` is a reserved domain that never resolves, so
    the ``$id`` names the schema without pretending to be a place to download it.
    """
    if version is None:
        from cbc_ranges import __version__ as version
    return f"https://cbc-ranges.invalid/schemas/{version}/interpretation.json"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`render`'s data, with ``$schema`` and ``$id``."""
    from cbc_ranges.models import Interpretation

    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(),
        **Interpretation.model_json_schema(),
    }


def _finite(value: Any) -> Any:
    # pydantic writes inf and nan as floats in mode="json"; strict JSON has no word for them
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
