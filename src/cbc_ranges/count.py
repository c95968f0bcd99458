"""Counts: a WBC result as a lab wrote it, read into a :class:`~cbc_ranges.models.Count`.

The value text may carry a comparator (``<1.0``, ``>=100`` — a censored result),
thousands separators (``4,200``, ``4 200``, ``4'200``), a decimal comma
(``4,2``), scientific notation (``4.2E3``), the unit (``7.4 K/uL``) and a
trailing lab flag (``3.2 L``, ``12.1 H``, ``3.2*``). Where a comma or a dot
could be either a decimal or a thousands separator (``4,200``), the reading
that gives a plausible WBC count in the unit wins: ``4,200 /uL`` is 4200 cells
per µL, ``12,500 10^9/L`` is 12.5 × 10⁹/L.

A value whose magnitude is implausible in its unit (``4200 K/uL``) is read,
but carries a warning naming the likely unit mix-up.

>>> parse_count("4,2", unit="G/L").value
4.2
>>> parse_count("<1.0 K/uL").comparator
'<'
>>> parse_count("4200 cells/µL").value
4.2
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from decimal import Decimal

from cbc_ranges.errors import CBCError, ParseError, UnitError
from cbc_ranges.models import Comparator, Count, construct_checked
from cbc_ranges.units import UnitReading, quoted_input, read_unit

__all__ = [
    "MAX_VALUE_CHARS",
    "PLAUSIBLE_RANGE",
    "parse_count",
    "parse_percentage",
    "try_parse_count",
]

#: WBC counts outside this range (10^9/L) draw an "implausible magnitude" warning.
#: The highest counts seen in leukaemia are a few hundred; below 0.01 the analysers
#: report "<0.1" or so rather than a number. Other analytes pass their own range.
PLAUSIBLE_RANGE = (0.01, 1000.0)
#: The longest value text (spaces around it aside) the library reads: a number, a unit
#: and a flag fit in 60; longer text is refused unread, so no step works on unbounded input.
MAX_VALUE_CHARS = 200
# a narrower window to choose between two readings of "4,200" or "4.200"
_LIKELY_RANGE = (0.05, 500.0)
# plain numbers with no separator question: "4.2", "12", "0.250", "4.2345" (not "4.200");
# ASCII digits only and bounded, so float() reads them exactly and finitely
_PLAIN_NUMBER = re.compile(
    r"[0-9]{1,15}(?:\.[0-9]{1,2})?|[0-9]{0,15}\.[0-9]{4,20}|[0-9]{4,15}\.[0-9]{1,20}|0\.[0-9]{1,20}"
)

_COMPARATORS: dict[str, Comparator] = {
    "<": "<",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    ">": ">",
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
}
# over stripped text; each whitespace run follows a token that must be there, and every number
# alternative is a single pass, so a match costs a few linear passes (no backtracking blow-up).
# \d is any script's digits on purpose: _ascii_digits refuses a number mixing two scripts.
_VALUE = re.compile(
    r"""
    (?:(?P<cmp><=|>=|=<|=>|≤|≥|<|>)\s*)?
    (?:(?P<sign>[-+−])\s*)?
    (?P<num>
        \d{1,3}(?:[\u00a0\u202f\u2009 ]\d{3})+(?=\s|$)   # 4 200 (space thousands), then a space
      | \d{1,3}(?:'\d{3})+                             # 4'200
      | \d+(?:[.,]\d+)*[.,]?                           # 4200, 4.2, 4,2, 1.234,5
      | [.,]\d+                                        # .5
    )
    (?P<exp>[eE][-+]?\d{1,3})?
    (?P<rest>.*)
    """,
    re.VERBOSE | re.DOTALL,
)
_LAB_FLAG = re.compile(
    r"^[(\[<]?(?:l|h|ll|hh|lo|hi|low|high|a|aa|c|crit|critical|abn|abnormal|n)?[)\]>]?[*!]*$",
    re.IGNORECASE,
)
# thousands groups: a grouped number never starts with 0 ("0.005" is a decimal, never 5)
_THOUSANDS_COMMA = re.compile(r"^[1-9][0-9]{0,2}(?:,[0-9]{3})+$")
_THOUSANDS_DOT = re.compile(r"^[1-9][0-9]{0,2}(?:\.[0-9]{3})+$")
_NOT_FINITE_WORDS = ("nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity")

_NO_UNIT = UnitReading(text="", canonical="10*9/L", factor=1.0)
_PERCENT = UnitReading(text="%", canonical="%", factor=1.0)
_PERCENT_LIKELY = (0.0, 100.0)


def parse_count(
    value: str | float,
    unit: str | None = None,
    *,
    decimal_comma: bool | None = None,
    plausible_range: tuple[float, float] = PLAUSIBLE_RANGE,
) -> Count:
    """Read a WBC count and its unit into 10^9 cells/L.

    ``value`` is text or a number; ``unit`` the unit text, or ``None`` when the
    unit is inside the value text (``"4.2 x10^9/L"``) or missing. With no unit
    at all the value is read as 10^9/L, with a warning. ``decimal_comma`` says
    how to read a comma: ``True`` as a decimal (European files), ``False`` as
    a thousands separator, ``None`` (default) from the digits and the unit.
    A count outside ``plausible_range`` (10^9/L) is read with a warning naming
    the likely unit mix-up; other analytes (basophils...) pass their own range.

    Raises :class:`ParseError` for a value that is not a count (empty, not a
    number, negative, NaN, infinite, too large, digits of two scripts, longer
    than :data:`MAX_VALUE_CHARS`) and :class:`UnitError` for a unit that is
    unknown or not a count per volume. An argument of the wrong Python type (a
    list, a dict, ``None`` or a bool as the value) is a :class:`TypeError`
    naming the parameter. The result's value is always finite and never -0.0.

    >>> parse_count("7.4 K/uL").value
    7.4
    >>> parse_count("3.2 L", unit="10*9/L").warnings
    ["ignored the lab flag 'L' after the value"]
    >>> parse_count("12,500", unit="/mm3").value
    12.5
    >>> parse_count("4.2", unit="mg/dL")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.UnitError: 'mg/dL' is a mass concentration ...
    """
    warnings: list[str] = []
    number_text: str | None = None
    if isinstance(value, str):
        raw = value
        if _PLAIN_NUMBER.fullmatch(value):  # "4.2": most lab values, and the fast path
            comparator, rest, number = None, "", float(value)
        else:
            comparator, number_text, rest = _split(value, "a WBC count")
    else:
        raw, number = _real_number(value, "a WBC count")
        comparator, rest = None, ""
    if decimal_comma is not None and not isinstance(decimal_comma, bool):
        raise TypeError(f"decimal_comma must be bool or None, not {type(decimal_comma).__name__}")

    if rest or (unit is not None and not isinstance(unit, str)):
        reading, unit_text = _unit_reading(unit, rest, raw, warnings)
    elif unit:
        reading, unit_text = read_unit(unit), unit.strip()
    else:
        reading, unit_text = _NO_UNIT, ""

    if number_text is not None:
        number = _read_number(number_text, raw, reading.factor, decimal_comma, warnings)
    count = reading.to_canonical(number) + 0.0  # + 0.0: -0.0 is 0.0
    if not math.isfinite(count):
        raise ParseError(_not_finite(raw, number), raw=raw)
    try:
        low, high = plausible_range
        implausible = not low <= count <= high and count != 0
    except (TypeError, ValueError):
        raise TypeError(
            f"plausible_range must be a (low, high) pair of numbers in 10^9/L, "
            f"not {plausible_range!r:.60}"
        ) from None
    if reading is _NO_UNIT:
        warnings.append("no unit given: the value was read as 10^9/L (= K/uL)")
    if implausible:
        _warn_magnitude(count, number, reading, warnings, low, high)
    return construct_checked(
        Count,
        {
            "value": count,
            "comparator": comparator,
            "unit_text": unit_text,
            "unit": None if reading is _NO_UNIT else reading.canonical,
            "raw": raw,
            "warnings": warnings,
        },
    )


def try_parse_count(
    value: str | float,
    unit: str | None = None,
    *,
    decimal_comma: bool | None = None,
    plausible_range: tuple[float, float] = PLAUSIBLE_RANGE,
) -> Count | None:
    """Like :func:`parse_count`, but ``None`` instead of a :class:`CBCError`.

    A wrong Python type is still a :class:`TypeError`: it is a bug in the caller,
    not a bad value.

    >>> try_parse_count("n/a") is None
    True
    """
    try:
        return parse_count(
            value, unit, decimal_comma=decimal_comma, plausible_range=plausible_range
        )
    except CBCError:
        return None


def parse_percentage(
    value: str | float,
    unit: str | None = None,
    *,
    decimal_comma: bool | None = None,
) -> Count:
    """Read a differential percentage (``"58"``, ``"58 %"``, ``"<1%"``) into a :class:`Count`.

    The value is in percent and ``unit`` is ``"%"``; a bare number is a percentage
    (``"0.58"`` is 0.58 %, not 58 %). The number is read as by :func:`parse_count`
    (comparator, separators, lab flags, ``decimal_comma``); ``unit`` may be ``"%"``,
    ``""`` or ``None``. Raises :class:`UnitError` for any other unit and
    :class:`ParseError` for a value that is not a percentage (above 100, negative...).

    >>> parse_percentage("58 %").value
    58.0
    >>> parse_percentage("<1", "%").comparator
    '<'
    >>> parse_percentage("58", "K/uL")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.UnitError: a differential percentage is in '%', not 'K/uL'
    """
    warnings: list[str] = []
    if isinstance(value, str):
        raw = value
        comparator, number_text, rest = _split(value, "a percentage")
    else:
        raw, number = _real_number(value, "a percentage")
        comparator, number_text, rest = None, None, ""
    if unit is not None and not isinstance(unit, str):
        raise TypeError(f"unit must be str or None, not {type(unit).__name__}")
    if decimal_comma is not None and not isinstance(decimal_comma, bool):
        raise TypeError(f"decimal_comma must be bool or None, not {type(decimal_comma).__name__}")
    given = unit.strip() if unit else ""
    if given not in ("", "%"):
        raise UnitError(
            f"a differential percentage is in '%', not {quoted_input(given)}", raw=raw, unit=unit
        )
    if rest:
        in_text, _, last = rest.rpartition(" ")
        if _LAB_FLAG.match(rest):
            warnings.append(f"ignored the lab flag {quoted_input(rest)} after the value")
            rest = ""
        elif in_text and _LAB_FLAG.match(last):
            warnings.append(f"ignored the lab flag {quoted_input(last)} after the value")
            rest = in_text.strip()
        if rest.startswith("%") and _LAB_FLAG.match(rest[1:].strip()) and rest[1:].strip():
            warnings.append(
                f"ignored the lab flag {quoted_input(rest[1:].strip())} after the value"
            )
            rest = "%"
        if rest not in ("", "%"):
            raise UnitError(
                f"a differential percentage is in '%', not {quoted_input(rest)}",
                raw=raw,
                unit=rest,
            )
    if number_text is not None:
        number = _read_number(number_text, raw, 1.0, decimal_comma, warnings, _PERCENT_LIKELY)
    number += 0.0  # -0.0 is 0.0
    if not math.isfinite(number):
        raise ParseError(_not_finite(raw, number), raw=raw)
    if number > 100:
        raise ParseError(
            f"a percentage cannot be above 100: {quoted_input(raw)} is {number:g} %", raw=raw
        )
    return construct_checked(
        Count,
        {
            "value": number,
            "comparator": comparator,
            "unit_text": given or ("%" if rest else ""),
            "unit": _PERCENT.canonical,
            "raw": raw,
            "warnings": warnings,
        },
    )


def _real_number(value: object, what: str) -> tuple[str, float]:
    """The raw text and the float of a value given as a Python number (not text)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        raise TypeError(f"value must be str, int or float ({what}), not {type(value).__name__}")
    try:
        number = float(value)
    except (OverflowError, ValueError):  # 10**400; Decimal('sNaN')
        raise ParseError(
            f"{what} must be a finite number of a sensible size, not a "
            f"{type(value).__name__} like this one",
            raw=value,
        ) from None
    if math.isnan(number) or math.isinf(number):
        raise ParseError(f"{what} must be a finite number, not {number!r}", raw=value)
    if number < 0:
        raise ParseError(f"{what} cannot be negative: {number:g}", raw=value)
    if isinstance(value, float):
        raw = repr(value)
    elif isinstance(value, int):
        raw = str(value)  # at most 309 digits: finite floats only get here
    else:
        raw = str(value)
    return raw, number


def _not_finite(raw: str, number: float) -> str:
    if math.isfinite(number):
        return f"{quoted_input(raw)} is too large: not a finite number of 10^9 cells/L"
    return f"{quoted_input(raw)} is not a finite number"


def _split(text: str, what: str) -> tuple[Comparator | None, str, str]:
    """Comparator, number text (ASCII, exponent included) and the rest of a value text."""
    stripped = text.strip()
    if len(stripped) > MAX_VALUE_CHARS:
        raise ParseError(
            f"the value {quoted_input(stripped)} is too long to be {what} "
            f"(at most {MAX_VALUE_CHARS} characters)",
            raw=text,
        )
    match = _VALUE.match(stripped)
    if match is None:
        if not stripped:
            raise ParseError("the value is empty", raw=text)
        if stripped.lower() in _NOT_FINITE_WORDS:
            raise ParseError(f"{quoted_input(stripped)} is not a finite number", raw=text)
        raise ParseError(f"{quoted_input(stripped)} does not start with a number", raw=text)
    if match["sign"] in ("-", "−"):
        raise ParseError(f"{what} cannot be negative: {quoted_input(text)}", raw=text)
    comparator = _COMPARATORS[match["cmp"]] if match["cmp"] else None
    number_text = _ascii_digits(match["num"] + (match["exp"] or ""), text)
    return comparator, number_text, match["rest"].strip()


def _ascii_digits(number_text: str, raw: str) -> str:
    """A number's digits in ASCII; its digits must all be of one script (٤٫٥ yes, 4٥ no)."""
    if number_text.isascii():
        return number_text
    zeros = {ord(ch) - unicodedata.decimal(ch) for ch in number_text if ch.isdecimal()}
    if len(zeros) > 1:
        raise ParseError(
            f"{quoted_input(raw)} mixes digits of different scripts in one number", raw=raw
        )
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in number_text)


def _unit_reading(
    unit: str | None, rest: str, raw: str, warnings: list[str]
) -> tuple[UnitReading, str]:
    """The unit to use, from ``unit`` or from the text after the number."""
    if unit is not None and not isinstance(unit, str):
        raise TypeError(f"unit must be str or None, not {type(unit).__name__}")
    given = unit.strip() if unit else ""
    if not rest:
        return (read_unit(given) if given else _NO_UNIT), given
    if _LAB_FLAG.match(rest):
        warnings.append(f"ignored the lab flag {quoted_input(rest)} after the value")
        return (read_unit(given) if given else _NO_UNIT), given
    # the rest is a unit, perhaps followed by a flag: "7.4 K/uL H"
    unit_in_text, _, last = rest.rpartition(" ")
    if unit_in_text and _LAB_FLAG.match(last):
        warnings.append(f"ignored the lab flag {quoted_input(last)} after the value")
        rest = unit_in_text.strip()
    try:
        in_text = read_unit(rest)
    except UnitError:
        if given:
            raise ParseError(
                f"{quoted_input(raw)} has {quoted_input(rest)} after the number, which is "
                f"neither a lab flag nor a unit",
                raw=raw,
            ) from None
        raise
    if given:
        stated = read_unit(given)
        if not math.isclose(stated.factor, in_text.factor):
            raise UnitError(
                f"the value {quoted_input(raw)} says {quoted_input(rest)} but the unit says "
                f"{quoted_input(given)}",
                raw=raw,
                unit=given,
            )
        return stated, given
    return in_text, rest


def _read_number(
    text: str,
    raw: str,
    factor: float,
    decimal_comma: bool | None,
    warnings: list[str],
    likely: tuple[float, float] = _LIKELY_RANGE,
) -> float:
    """The number in ``text`` (ASCII digits, at most :data:`MAX_VALUE_CHARS`), maybe inf."""
    mantissa, e, exponent = text.replace("E", "e").partition("e")
    return float(
        _decimal_text(mantissa, raw, factor, decimal_comma, warnings, likely) + e + exponent
    )


def _decimal_text(
    text: str,
    raw: str,
    factor: float,
    decimal_comma: bool | None,
    warnings: list[str],
    likely: tuple[float, float],
) -> str:
    """``text`` as plain decimal text (``4200``, ``4.2``), deciding what commas and dots mean."""
    text = re.sub(r"[\u00a0\u202f\u2009 ']", "", text)  # 4 200 and 4'200 are thousands
    text = text.rstrip(".,")
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, fraction = text.rpartition(decimal)
        if decimal in whole or not _is_grouped(whole, thousands):
            raise ParseError(f"{quoted_input(raw)} is not a number: mixed separators", raw=raw)
        return whole.replace(thousands, "") + "." + fraction
    if commas:
        if commas == 1 and decimal_comma is not False:
            whole, fraction = text.split(",")
            if decimal_comma or len(fraction) != 3 or whole in ("", "0"):
                return f"{whole}.{fraction}"
            return _choose(text, ",", factor, raw, warnings, likely)
        if _THOUSANDS_COMMA.match(text):
            return text.replace(",", "")
        raise ParseError(f"{quoted_input(raw)} is not a number: misplaced commas", raw=raw)
    if dots > 1:
        if _THOUSANDS_DOT.match(text):
            return text.replace(".", "")
        raise ParseError(
            f"{quoted_input(raw)} is not a number: more than one decimal point", raw=raw
        )
    if dots == 1 and _THOUSANDS_DOT.match(text):
        return _choose(text, ".", factor, raw, warnings, likely, prefer_decimal=True)
    return text


def _is_grouped(whole: str, separator: str) -> bool:
    """``1.234`` or ``1,234,567``: thousands groups of three after the first."""
    groups = whole.split(separator)
    head = groups[0]
    return 1 <= len(head) <= 3 and head[0] != "0" and all(len(g) == 3 for g in groups[1:])


def _choose(
    text: str,
    separator: str,
    factor: float,
    raw: str,
    warnings: list[str],
    likely: tuple[float, float],
    *,
    prefer_decimal: bool = False,
) -> str:
    """``4,200`` or ``4.200``: a decimal or thousands? The plausible reading wins."""
    decimal_text = text.replace(separator, ".")
    thousands_text = text.replace(separator, "")
    as_decimal, as_thousands = float(decimal_text), float(thousands_text)
    low, high = likely
    decimal_likely = low <= as_decimal * factor <= high
    thousands_likely = low <= as_thousands * factor <= high
    if decimal_likely and not thousands_likely:
        return decimal_text
    if thousands_likely and not decimal_likely:
        return thousands_text
    chosen, other = (as_decimal, as_thousands) if prefer_decimal else (as_thousands, as_decimal)
    warnings.append(
        f"{quoted_input(raw)} is ambiguous: read as {chosen:g}, not {other:g}; write the number "
        f"without a thousands separator to be sure"
    )
    return decimal_text if prefer_decimal else thousands_text


def _warn_magnitude(
    count: float,
    number: float,
    reading: UnitReading,
    warnings: list[str],
    low: float,
    high: float,
) -> None:
    """Warn that a value is implausible for a count in its unit, naming the likely mix-up."""
    if count > high:
        if reading is _NO_UNIT:
            hint = "with no unit it looks like cells/µL; give the unit (for example '/uL')"
        elif reading.factor >= 0.5:
            hint = "it looks like cells/µL written with a thousands unit (did you mean '/uL'?)"
        else:
            hint = "check the unit"
        warnings.append(
            f"implausible magnitude: {number:g} {reading.text or '(no unit)'} is "
            f"{count:g} x 10^9/L, far above {_plausible_words(low, high)}; {hint}"
        )
    elif 0 < count < low:
        if reading.factor < 0.5:
            hint = (
                "it looks like thousands per µL written with a per-cell unit (did you mean 'K/uL'?)"
            )
        else:
            hint = "check the unit"
        warnings.append(
            f"implausible magnitude: {number:g} {reading.text} is {count:g} x 10^9/L, "
            f"far below {_plausible_words(low, high)}; {hint}"
        )


def _plausible_words(low: float, high: float) -> str:
    if (low, high) == PLAUSIBLE_RANGE:
        return "any WBC count"
    return f"the plausible range {low:g} to {high:g} x 10^9/L"
