"""The person a count belongs to: age, sex and ethnicity, read the way people write them.

Reference ranges depend on who the count belongs to, so before a range is picked
the inputs are read into a :class:`~cbc_ranges.models.Person`:

* **age** in years, from a number (``34``, ``0.5``) or a text with a unit
  (``"6 months"``, ``"10 days"``, ``"2y"``, ``"1 year 6 months"``). No age
  (``None`` or an empty text) is allowed and means "not known"; an age that
  cannot be read, is negative or is over 150 years raises
  :class:`~cbc_ranges.errors.PersonError`.
* **sex**: ``female``/``male``/``F``/``M`` in any case; anything else, including
  ``None``, is ``"unknown"``. Male is never assumed.
* **ethnicity**: free text, matched as whole words against the groups a range
  table knows (``"Black or African American"`` -> ``african``); text that
  matches no group is ignored, without an error.

The rules are written up in ``docs/interpretation.md``.

>>> parse_age("6 months")
0.5
>>> parse_sex("F"), parse_sex(None)
('female', 'unknown')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from cbc_ranges.errors import PersonError
from cbc_ranges.models import Sex

__all__ = [
    "ADULT_AGE",
    "AGE_UNITS",
    "MAX_AGE",
    "age_in_years",
    "match_ethnicity",
    "normalise_words",
    "parse_age",
    "parse_sex",
    "sex_is_recognised",
]

#: age in years from which the adult rules apply (adults: age >= 18)
ADULT_AGE = 18.0
#: ages above this many years are refused as typing errors
MAX_AGE = 150.0

_DAYS_PER_YEAR = 365.25

#: years per unit, for every spelling of an age unit that is accepted
AGE_UNITS: Mapping[str, float] = {
    **dict.fromkeys(("y", "yr", "yrs", "year", "years", "a"), 1.0),
    **dict.fromkeys(("m", "mo", "mos", "mon", "month", "months"), 1.0 / 12.0),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7.0 / _DAYS_PER_YEAR),
    **dict.fromkeys(("d", "day", "days"), 1.0 / _DAYS_PER_YEAR),
}

_SEXES: Mapping[str, Sex] = {
    "f": "female",
    "female": "female",
    "m": "male",
    "male": "male",
}

# one "<number> <unit>" part of an age text; the number may use a decimal comma
_AGE_PART = re.compile(r"\s*(\d+(?:[.,]\d+)?|[.,]\d+)\s*([a-z]+)?\.?\s*,?")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def age_in_years(number: float, unit: str) -> float:
    """``number`` of ``unit`` (any spelling in :data:`AGE_UNITS`) in years.

    >>> age_in_years(18, "months")
    1.5

    Raises :class:`PersonError` for an unknown unit.
    """
    factor = AGE_UNITS.get(unit.strip().lower())
    if factor is None:
        raise PersonError(f"unknown age unit {unit!r}; use years, months, weeks or days", raw=unit)
    return number * factor


def parse_age(age: float | int | str | None) -> float | None:
    """The age in years, or ``None`` when no age was given.

    A bare number is years; a text may carry units, several parts adding up.

    >>> parse_age(34)
    34.0
    >>> parse_age("2y")
    2.0
    >>> round(parse_age("10 days") or 0, 4)
    0.0274
    >>> parse_age("1 year 6 months")
    1.5
    >>> parse_age("")  # no age given
    >>> parse_age("-3 years")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.PersonError: age '-3 years' cannot be read: ...
    """
    if age is None:
        return None
    if isinstance(age, str):
        return _parse_age_text(age)
    if isinstance(age, bool) or not isinstance(age, (int, float)):
        raise PersonError(f"age must be a number of years or a text, not {age!r}", raw=age)
    return _checked(float(age), age)


@lru_cache(maxsize=1024)
def _parse_age_text(text: str) -> float | None:
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    if cleaned[0] in "-−":
        raise PersonError(
            f"age {text!r} cannot be read: it must be between 0 and {MAX_AGE:g} years", raw=text
        )
    position = 0
    total = 0.0
    parts = 0
    while position < len(cleaned):
        match = _AGE_PART.match(cleaned, position)
        if match is None or match.end() == position:
            raise PersonError(
                f"age {text!r} cannot be read: write a number of years, or a number "
                "with a unit such as '6 months', '10 days' or '2y'",
                raw=text,
            )
        number_text, unit = match.groups()
        number = float(number_text.replace(",", "."))
        if unit is None:
            if parts or match.end() < len(cleaned):
                raise PersonError(f"age {text!r} cannot be read: a part has no unit", raw=text)
            unit = "years"
        try:
            total += age_in_years(number, unit)
        except PersonError:
            raise PersonError(
                f"age {text!r} cannot be read: unknown unit {unit!r}; use years, months, "
                "weeks or days",
                raw=text,
            ) from None
        parts += 1
        position = match.end()
    return _checked(total, text)


def _checked(years: float, raw: object) -> float:
    if math.isnan(years) or years < 0 or years > MAX_AGE:
        raise PersonError(
            f"age {raw!r} cannot be read: it must be between 0 and {MAX_AGE:g} years", raw=raw
        )
    return years


def parse_sex(sex: str | None) -> Sex:
    """``"female"``, ``"male"`` or ``"unknown"``; never assumes male.

    >>> parse_sex("Male"), parse_sex("f"), parse_sex("x"), parse_sex("")
    ('male', 'female', 'unknown', 'unknown')
    """
    if sex is None:
        return "unknown"
    return _SEXES.get(sex.strip().lower(), "unknown")


def sex_is_recognised(sex: str | None) -> bool:
    """Whether ``sex`` was given and read as female or male (else it counts as unknown).

    >>> sex_is_recognised("F"), sex_is_recognised("other"), sex_is_recognised(None)
    (True, False, False)
    """
    return sex is not None and sex.strip().lower() in _SEXES


def normalise_words(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation dropped.

    >>> normalise_words("  Black/African-American ")
    'black african american'
    """
    return " ".join(_NOT_WORD.split(text.lower())).strip()


def match_ethnicity(text: str | None, groups: Mapping[str, Sequence[str]]) -> str | None:
    """The first group whose name or an alias occurs, as whole words, in ``text``.

    ``groups`` maps a group name to its aliases, already passed through
    :func:`normalise_words`. Text that matches nothing gives ``None``.

    >>> groups = {"african": ["african", "black"], "middle_eastern": ["arab"]}
    >>> match_ethnicity("Black or African American", groups)
    'african'
    >>> match_ethnicity("Arab", groups), match_ethnicity("Blackburn", groups)
    ('middle_eastern', None)
    """
    if not text:
        return None
    words = f" {normalise_words(text)} "
    for group, aliases in groups.items():
        if f" {normalise_words(group)} " in words:
            return group
        for alias in aliases:
            if f" {alias} " in words:
                return group
    return None
