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

from cbc_ranges.errors import CBCError, ParseError, UnitError
from cbc_ranges.models import Comparator, Count, construct_checked
from cbc_ranges.units import UnitReading, read_unit

__all__ = ["PLAUSIBLE_RANGE", "parse_count", "try_parse_count"]

#: WBC counts outside this range (10^9/L) draw an "implausible magnitude" warning.
#: The highest counts seen in leukaemia are a few hundred; below 0.01 the analysers
#: report "<0.1" or so rather than a number.
PLAUSIBLE_RANGE = (0.01, 1000.0)
# a narrower window to choose between two readings of "4,200" or "4.200"
_LIKELY_RANGE = (0.05, 500.0)
_PLAUSIBLE_LOW = PLAUSIBLE_RANGE[0]
# plain numbers with no separator question: "4.2", "12", "0.250", "4.2345" (not "4.200")
_PLAIN_NUMBER = re.compile(r"\d{1,300}(?:\.\d{1,2})?|\d{0,300}\.\d{4,}|\d{4,300}\.\d+|0\.\d+")

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
_VALUE = re.compile(
    r"""
    ^\s*
    (?P<cmp><=|>=|=<|=>|≤|≥|<|>)?\s*
    (?P<sign>[-+−])?\s*
    (?P<num>
        \d{1,3}(?:[\u00a0\u202f\u2009 ]\d{3})+(?=\s|$)   # 4 200 (space thousands), then a space
      | \d{1,3}(?:'\d{3})+                             # 4'200
      | \d+(?:[.,]\d+)*[.,]?                           # 4200, 4.2, 4,2, 1.234,5
      | [.,]\d+                                        # .5
    )
    (?P<exp>[eE][-+]?\d{1,3})?
    \s*(?P<rest>.*?)\s*$
    """,
    re.VERBOSE | re.DOTALL,
)
_LAB_FLAG = re.compile(
    r"^[(\[<]?(?:l|h|ll|hh|lo|hi|low|high|a|aa|c|crit|critical|abn|abnormal|n)?[)\]>]?[*!]*$",
    re.IGNORECASE,
)
_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3})+$")

_NO_UNIT = UnitReading(text="", canonical="10*9/L", factor=1.0)


def parse_count(
    value: str | float,
    unit: str | None = None,
    *,
    decimal_comma: bool | None = None,
) -> Count:
    """Read a WBC count and its unit into 10^9 cells/L.

    ``value`` is text or a number; ``unit`` the unit text, or ``None`` when the
    unit is inside the value text (``"4.2 x10^9/L"``) or missing. With no unit
    at all the value is read as 10^9/L, with a warning. ``decimal_comma`` says
    how to read a comma: ``True`` as a decimal (European files), ``False`` as
    a thousands separator, ``None`` (default) from the digits and the unit.

    Raises :class:`ParseError` for a value that is not a count (empty, not a
    number, negative, NaN, infinite) and :class:`UnitError` for a unit that is
    unknown or not a count per volume.

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
    exponent = 0
    if isinstance(value, str):
        raw = value
        if _PLAIN_NUMBER.fullmatch(value):  # "4.2": most lab values, and the fast path
            comparator, rest, number = None, "", float(value)
        else:
            comparator, number_text, exponent, rest = _split(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        raw = repr(value) if isinstance(value, float) else str(value)
        comparator, rest, number = None, "", float(value)
        if number < 0:
            raise ParseError(f"a WBC count cannot be negative: {raw}", raw=raw)
    else:
        raise ParseError(
            f"a WBC count must be text or a number, not {type(value).__name__}", raw=value
        )

    if rest or (unit is not None and not isinstance(unit, str)):
        reading, unit_text = _unit_reading(unit, rest, raw, warnings)
    elif unit:
        reading, unit_text = read_unit(unit), unit.strip()
    else:
        reading, unit_text = _NO_UNIT, ""

    if number_text is not None:
        number = _read_number(number_text, raw, reading.factor, decimal_comma, warnings)
        if exponent:
            number = float(f"{number!r}e{exponent}")  # 1e999 is inf here, not an OverflowError
    if not math.isfinite(number):
        raise ParseError(f"{raw!r} is not a finite number", raw=raw)

    count = reading.to_canonical(number)
    if reading is _NO_UNIT:
        warnings.append("no unit given: the value was read as 10^9/L (= K/uL)")
    if not _PLAUSIBLE_LOW <= count <= PLAUSIBLE_RANGE[1] and count != 0:
        _warn_magnitude(count, number, reading, warnings)
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
) -> Count | None:
    """Like :func:`parse_count`, but ``None`` instead of an error.

    >>> try_parse_count("n/a") is None
    True
    """
    try:
        return parse_count(value, unit, decimal_comma=decimal_comma)
    except CBCError:
        return None


def _split(text: str) -> tuple[Comparator | None, str, int, str]:
    """Comparator, number text, exponent and the rest of a value text."""
    match = _VALUE.match(text)
    if match is None:
        stripped = text.strip()
        if not stripped:
            raise ParseError("the value is empty", raw=text)
        if stripped.lower() in ("nan", "inf", "-inf", "+inf", "infinity"):
            raise ParseError(f"{stripped!r} is not a finite number", raw=text)
        raise ParseError(f"{text!r} does not start with a number", raw=text)
    if match["sign"] in ("-", "−"):
        raise ParseError(f"a WBC count cannot be negative: {text!r}", raw=text)
    comparator = _COMPARATORS[match["cmp"]] if match["cmp"] else None
    exponent = int(match["exp"][1:]) if match["exp"] else 0
    return comparator, match["num"], exponent, match["rest"]


def _unit_reading(
    unit: str | None, rest: str, raw: str, warnings: list[str]
) -> tuple[UnitReading, str]:
    """The unit to use, from ``unit`` or from the text after the number."""
    if unit is not None and not isinstance(unit, str):
        raise UnitError(f"a unit must be text, not {type(unit).__name__}", raw=unit)
    given = unit.strip() if unit else ""
    if not rest:
        return (read_unit(given) if given else _NO_UNIT), given
    if _LAB_FLAG.match(rest):
        warnings.append(f"ignored the lab flag {rest!r} after the value")
        return (read_unit(given) if given else _NO_UNIT), given
    # the rest is a unit, perhaps followed by a flag: "7.4 K/uL H"
    unit_in_text, _, last = rest.rpartition(" ")
    if unit_in_text and _LAB_FLAG.match(last):
        warnings.append(f"ignored the lab flag {last!r} after the value")
        rest = unit_in_text.strip()
    try:
        in_text = read_unit(rest)
    except UnitError:
        if given:
            raise ParseError(
                f"{raw!r} has {rest!r} after the number, which is neither a lab flag nor a unit",
                raw=raw,
            ) from None
        raise
    if given:
        stated = read_unit(given)
        if not math.isclose(stated.factor, in_text.factor):
            raise UnitError(
                f"the value {raw!r} says {rest!r} but the unit says {given!r}",
                raw=raw,
                unit=given,
            )
        return stated, given
    return in_text, rest


def _read_number(
    text: str, raw: str, factor: float, decimal_comma: bool | None, warnings: list[str]
) -> float:
    """The number in ``text``, deciding what its commas and dots mean."""
    text = re.sub(r"[\u00a0\u202f\u2009 ']", "", text)  # 4 200 and 4'200 are thousands
    text = text.rstrip(".,")
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, fraction = text.rpartition(decimal)
        if decimal in whole or not _is_grouped(whole, thousands):
            raise ParseError(f"{raw!r} is not a number: mixed separators", raw=raw)
        return float(whole.replace(thousands, "") + "." + fraction)
    if commas:
        if commas == 1 and decimal_comma is not False:
            whole, fraction = text.split(",")
            if decimal_comma or len(fraction) != 3 or whole in ("", "0"):
                return float(f"{whole}.{fraction}")
            return _choose(text, ",", factor, raw, warnings)
        if _THOUSANDS_COMMA.match(text):
            return float(text.replace(",", ""))
        raise ParseError(f"{raw!r} is not a number: misplaced commas", raw=raw)
    if dots > 1:
        if _THOUSANDS_DOT.match(text):
            return float(text.replace(".", ""))
        raise ParseError(f"{raw!r} is not a number: more than one decimal point", raw=raw)
    if dots == 1 and _THOUSANDS_DOT.match(text):
        return _choose(text, ".", factor, raw, warnings, prefer_decimal=True)
    return float(text)


def _is_grouped(whole: str, separator: str) -> bool:
    """``1.234`` or ``1,234,567``: thousands groups of three after the first."""
    groups = whole.split(separator)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def _choose(
    text: str,
    separator: str,
    factor: float,
    raw: str,
    warnings: list[str],
    *,
    prefer_decimal: bool = False,
) -> float:
    """``4,200`` or ``4.200``: a decimal or thousands? The plausible reading wins."""
    as_decimal = float(text.replace(separator, "."))
    as_thousands = float(text.replace(separator, ""))
    low, high = _LIKELY_RANGE
    decimal_likely = low <= as_decimal * factor <= high
    thousands_likely = low <= as_thousands * factor <= high
    if decimal_likely and not thousands_likely:
        return as_decimal
    if thousands_likely and not decimal_likely:
        return as_thousands
    chosen = as_decimal if prefer_decimal else as_thousands
    other = as_thousands if prefer_decimal else as_decimal
    warnings.append(
        f"{raw!r} is ambiguous: read as {chosen:g}, not {other:g}; write the number "
        f"without a thousands separator to be sure"
    )
    return chosen


def _warn_magnitude(count: float, number: float, reading: UnitReading, warnings: list[str]) -> None:
    """Warn that a value is implausible for a WBC count in its unit, naming the likely mix-up."""
    low, high = PLAUSIBLE_RANGE
    if count > high:
        if reading is _NO_UNIT:
            hint = "with no unit it looks like cells/µL; give the unit (for example '/uL')"
        elif reading.factor >= 0.5:
            hint = "it looks like cells/µL written with a thousands unit (did you mean '/uL'?)"
        else:
            hint = "check the unit"
        warnings.append(
            f"implausible magnitude: {number:g} {reading.text or '(no unit)'} is "
            f"{count:g} x 10^9/L, far above any WBC count; {hint}"
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
            f"far below any WBC count; {hint}"
        )
