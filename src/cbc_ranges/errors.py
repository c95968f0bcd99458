"""The one exception hierarchy of cbc-ranges.

Every error the library raises on bad input is a :class:`CBCError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do
not know this library. Errors carry structured fields (the raw input, the
offending unit, suggestions) so that a caller can show "did you mean ...?"
without parsing the message.

>>> try:
...     raise UnitError("unknown unit 'K/ul?'", raw="4 K/ul?", unit="K/ul?", suggestions=["K/uL"])
... except CBCError as error:
...     error.suggestions
['K/uL']
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BatchError",
    "CBCError",
    "FHIRError",
    "ParseError",
    "PersonError",
    "RangeTableError",
    "UnitError",
]


class CBCError(ValueError):
    """Base class of every error cbc-ranges raises about its input.

    ``raw`` is the input as given (text, number or path), ``suggestions`` the
    values that were probably meant, best first.
    """

    def __init__(
        self,
        message: str,
        *,
        raw: object = None,
        suggestions: Sequence[str] = (),
    ) -> None:
        self.message = message
        self.raw = raw
        self.suggestions = list(suggestions)
        if self.suggestions:
            quoted = " or ".join(repr(s) for s in self.suggestions[:3])
            message = f"{message} (did you mean {quoted}?)"
        super().__init__(message)


class ParseError(CBCError):
    """The value text is not a WBC count: empty, not a number, negative, NaN..."""


class UnitError(CBCError):
    """The unit is unknown, or not a count per volume (mg/dL, %, fL, L ...)."""

    def __init__(
        self,
        message: str,
        *,
        raw: object = None,
        unit: str | None = None,
        suggestions: Sequence[str] = (),
    ) -> None:
        self.unit = unit
        super().__init__(message, raw=raw, suggestions=suggestions)


class PersonError(CBCError):
    """An age (or other person attribute) that cannot be read, such as ``"-3 years"``."""


class RangeTableError(CBCError):
    """A range table that does not load: names the file, the row and the field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.field = field
        where = ", ".join(
            part
            for part in (
                path,
                f"row {row}" if row is not None else None,
                f"field {field!r}" if field is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, raw=path)


class BatchError(CBCError):
    """A CSV file that cannot be processed at all (missing file, no value column...)."""


class FHIRError(CBCError):
    """A FHIR resource that is not a WBC count Observation this library can read."""
