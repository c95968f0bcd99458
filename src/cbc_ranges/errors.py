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

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "BatchError",
    "CBCError",
    "FHIRError",
    "ParseError",
    "PersonError",
    "RangeTableError",
    "UnitError",
    "suggest",
]


def suggest(word: str, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The choices closest to ``word``, best first: the one "did you mean" of the library.

    >>> suggest("documnets", ["documents", "standard"])
    ['documents']
    >>> suggest("zzz", ["documents"])
    []
    """
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=cutoff)


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
        super().__init__(self._full_message(message))

    def _full_message(self, message: str) -> str:
        if self.suggestions:
            quoted = " or ".join(repr(s) for s in self.suggestions[:3])
            return f"{message} (did you mean {quoted}?)"
        return message

    def with_suggestions(self, suggestions: Sequence[str]) -> CBCError:
        """This error with ``suggestions`` added to its fields and its message.

        >>> str(CBCError("unknown kind 'grad'").with_suggestions(["grade"]))
        "unknown kind 'grad' (did you mean 'grade'?)"
        """
        self.suggestions = list(suggestions)
        self.args = (self._full_message(str(self.args[0]) if self.args else self.message),)
        return self


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
