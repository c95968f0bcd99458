"""Classification: where a count lies against a reference interval and the leukopenia threshold.

The rules, in 10^9/L:

* **Reference interval** ``[low, high]``, inclusive at both ends: below ``low``
  is ``"low"`` (HL7 v3 ObservationInterpretation code ``L``), above ``high`` is
  ``"high"`` (``H``), otherwise ``"normal"`` (``N``). With no interval the flag
  is ``"indeterminate"`` and the code ``None``: never a guessed normal.
* **Leukopenia threshold** ``t``, strict: leukopenia when the count is below
  ``t``; exactly ``t`` is not. With no threshold (children), ``None``.
* **Censored values** (``<1.0``, ``>=12``) stand for an interval of counts. A
  censored count is flagged only when every count in that interval gets the
  same flag; otherwise it is ``"indeterminate"``. ``<4.5`` against an inclusive
  low of 4.5 is low (every count below 4.5 is below the range), ``<=4.5`` is not.

>>> flag_for(3.2, None, 4.5, 11.0), flag_for(4.5, None, 4.5, 11.0)
('low', 'normal')
>>> flag_for(4.5, "<", 4.5, 11.0), flag_for(4.5, "<=", 4.5, 11.0)
('low', 'indeterminate')
>>> below_threshold(4.0, None, 4.0), below_threshold(3.99, None, 4.0)
(False, True)

* **Decision limits and grade bands** cover a region: from ``low`` (inclusive) up
  to ``high`` (exclusive) when both are given, below ``high`` (strict) when only
  ``high`` is, above ``low`` (strict) when only ``low`` is. :func:`in_region` says
  whether a (possibly censored) count lies in it: ``True`` when every count it
  stands for does, ``False`` when none does, ``None`` when it straddles an edge.

>>> in_region(1.2, None, 1.0, 1.5), in_region(1.5, None, 1.0, 1.5), in_region(0.4, None, None, 0.5)
(True, False, True)
"""

from __future__ import annotations

import math

from cbc_ranges.models import Comparator, Flag, InterpretationCode

__all__ = ["CODES", "FLAG_ORDER", "below_threshold", "code_for", "flag_for", "in_region"]

#: the HL7 v3 ObservationInterpretation code of each flag
CODES: dict[Flag, InterpretationCode | None] = {
    "low": "L",
    "normal": "N",
    "high": "H",
    "indeterminate": None,
}

#: the order of the decided flags, lowest first (for "a higher value never gets a lower flag")
FLAG_ORDER: dict[Flag, int] = {"low": 0, "normal": 1, "high": 2}


def _bounds(value: float, comparator: Comparator | None) -> tuple[float, bool, float, bool]:
    """The counts a result stands for: (lowest, lowest included, highest, highest included)."""
    if comparator is None:
        return value, True, value, True
    if comparator == "<":
        return -math.inf, False, value, False
    if comparator == "<=":
        return -math.inf, False, value, True
    if comparator == ">":
        return value, False, math.inf, False
    return value, True, math.inf, False  # ">="


def _all_below(value: float, comparator: Comparator | None, limit: float) -> bool:
    """Every count the result stands for is strictly below ``limit``."""
    _, _, highest, highest_included = _bounds(value, comparator)
    return highest < limit or (highest == limit and not highest_included)


def _all_above(value: float, comparator: Comparator | None, limit: float) -> bool:
    """Every count the result stands for is strictly above ``limit``."""
    lowest, lowest_included, _, _ = _bounds(value, comparator)
    return lowest > limit or (lowest == limit and not lowest_included)


def flag_for(
    value: float, comparator: Comparator | None, low: float | None, high: float | None
) -> Flag:
    """The flag of a (possibly censored) count against an inclusive interval.

    A missing limit (no interval) gives ``"indeterminate"``.

    >>> flag_for(11.0, None, 4.5, 11.0), flag_for(11.01, None, 4.5, 11.0)
    ('normal', 'high')
    >>> flag_for(12.0, ">=", 4.5, 11.0), flag_for(10.0, ">", 4.5, 11.0)
    ('high', 'indeterminate')
    >>> flag_for(5.0, None, None, None)
    'indeterminate'
    """
    if low is None or high is None:
        return "indeterminate"
    if comparator is None:  # the common case, without the interval arithmetic
        return "low" if value < low else "high" if value > high else "normal"
    if _all_below(value, comparator, low):
        return "low"
    if _all_above(value, comparator, high):
        return "high"
    # a censored interval is never wholly inside a finite [low, high]
    return "indeterminate"


def below_threshold(
    value: float, comparator: Comparator | None, threshold: float | None
) -> bool | None:
    """Whether a (possibly censored) count is strictly below the leukopenia threshold.

    ``None`` when there is no threshold or the censored interval straddles it.

    >>> [below_threshold(4.0, c, 4.0) for c in ("<", "<=", ">=", None)]
    [True, None, False, False]
    >>> below_threshold(3.0, ">", 4.0), below_threshold(3.0, None, None)
    (None, None)
    """
    if threshold is None:
        return None
    if comparator is None:
        return value < threshold
    if _all_below(value, comparator, threshold):
        return True
    lowest, _, _, _ = _bounds(value, comparator)
    if lowest >= threshold:  # every count is at or above the threshold
        return False
    return None


def code_for(flag: Flag) -> InterpretationCode | None:
    """The HL7 v3 ObservationInterpretation code of a flag (``None`` when indeterminate).

    >>> code_for("low"), code_for("indeterminate")
    ('L', None)
    """
    return CODES[flag]


def in_region(
    value: float, comparator: Comparator | None, low: float | None, high: float | None
) -> bool | None:
    """Whether a (possibly censored) count lies in a decision limit's or grade band's region.

    ``None`` when the censored interval straddles an edge, or when neither limit is given
    (a limit the table names without a figure).

    >>> in_region(100.0, None, 100.0, None), in_region(100.1, None, 100.0, None)
    (False, True)
    >>> in_region(0.5, "<", None, 0.5), in_region(0.5, "<=", None, 0.5)
    (True, None)
    >>> in_region(2.0, ">=", None, 1.5), in_region(1.2, ">", None, 1.5)
    (False, None)
    """
    if low is None and high is None:
        return None
    if comparator is None:  # the common case, without the interval arithmetic
        if low is not None and (value < low if high is not None else value <= low):
            return False
        return high is None or value < high
    lowest, lowest_in, highest, highest_in = _bounds(value, comparator)
    # the region: (low or -inf, included only when both limits are given) .. high excluded
    region_low = -math.inf if low is None else low
    low_in = low is not None and high is not None
    region_high = math.inf if high is None else high
    inside = (lowest > region_low or (lowest == region_low and (low_in or not lowest_in))) and (
        highest < region_high or (highest == region_high and not highest_in)
    )
    if inside:
        return True
    apart = (
        highest < region_low
        or (highest == region_low and not (highest_in and low_in))
        or lowest >= region_high
    )
    return False if apart else None
