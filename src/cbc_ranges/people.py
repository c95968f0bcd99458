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

import calendar
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from cbc_ranges.errors import PersonError
from cbc_ranges.models import Sex

__all__ = [
    "ADULT_AGE",
    "AGE_UNITS",
    "AGE_UNIT_NAMES",
    "AGE_UNIT_SPELLINGS",
    "AGE_WORDS",
    "MAX_AGE",
    "SEX_CODES",
    "Age",
    "AgeUnit",
    "age_unit",
    "match_ethnicity",
    "normalise_words",
    "parse_age",
    "parse_duffy",
    "parse_sex",
    "read_age",
    "sex_is_known_code",
    "sex_is_recognised",
]

#: age in years from which the adult rules apply (adults: age >= 18); the library's own
#: reading: the seed documents say "adults" and "children" without an age
ADULT_AGE = 18.0
#: ages above this many years are refused as typing errors
MAX_AGE = 150.0

#: the units an age or an age band edge can be written in
AgeUnit = Literal["days", "weeks", "months", "years"]
AGE_UNIT_NAMES: tuple[AgeUnit, ...] = ("days", "weeks", "months", "years")

# a spoken month or year in days: the calendar average (a spoken age has no calendar)
_DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = _DAYS_PER_YEAR / 12

#: every accepted spelling of an age unit, and the unit it means
AGE_UNIT_SPELLINGS: Mapping[str, AgeUnit] = {
    **dict.fromkeys(("y", "yr", "yrs", "year", "years", "a"), "years"),
    **dict.fromkeys(("m", "mo", "mos", "mon", "month", "months"), "months"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "weeks"),
    **dict.fromkeys(("d", "day", "days"), "days"),
}

#: years per unit, for every spelling of an age unit that is accepted
AGE_UNITS: Mapping[str, float] = {
    spelling: {
        "years": 1.0,
        "months": 1 / 12,
        "weeks": 7 / _DAYS_PER_YEAR,
        "days": 1 / _DAYS_PER_YEAR,
    }[unit]
    for spelling, unit in AGE_UNIT_SPELLINGS.items()
}


#: the sex codes read, and what each means (docs/interpretation.md lists them): English,
#: German (w, weiblich, männlich), French (femme, homme), Spanish and Portuguese (mujer, hombre,
#: feminino, masculino); a code for "not known" is read as unknown without a warning
SEX_CODES: Mapping[str, Sex] = {
    **dict.fromkeys(
        ("f", "female", "woman", "w", "weiblich", "femme", "féminin", "feminin", "mujer",
         "femenino", "feminino", "girl"),
        "female",
    ),
    **dict.fromkeys(
        ("m", "male", "man", "männlich", "maennlich", "mannlich", "homme", "masculin",
         "hombre", "masculino", "boy"),
        "male",
    ),
    **dict.fromkeys(
        ("u", "unknown", "unk", "unbekannt", "inconnu", "desconocido", "not known", "n/a",
         "na"),
        "unknown",
    ),
}  # fmt: skip
_SEXES: Mapping[str, Sex] = SEX_CODES

#: ages given as words: days from birth
AGE_WORDS: Mapping[str, float] = {
    "newborn": 0.0,
    "neonate": 0.0,
    "new born": 0.0,
    "neugeborenes": 0.0,
    "nouveau-né": 0.0,
    "nouveau né": 0.0,
}

# one "<number> <unit>" part of an age text; the number may use a decimal comma. Bounded
# repeats and ASCII digits only: linear time on any input, no digits of other scripts
_AGE_PART = re.compile(
    r"\s*([0-9]{1,60}(?:[.,][0-9]{1,60})?|[.,][0-9]{1,60})\s*([a-z]{1,8})?\.?\s*,?"
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def age_unit(spelling: str) -> AgeUnit:
    """The age unit a spelling means (``"mo"`` -> ``"months"``).

    >>> age_unit("Yrs"), age_unit("d")
    ('years', 'days')

    Raises :class:`PersonError` for an unknown unit.
    """
    unit = AGE_UNIT_SPELLINGS.get(spelling.strip().lower())
    if unit is None:
        raise PersonError(
            f"unknown age unit {_shown(spelling)}; use years, months, weeks or days", raw=spelling
        )
    return unit


def _number_text(number: float) -> str:
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _plural(number: float, unit: AgeUnit) -> str:
    text = _number_text(number)
    return f"{text} {unit[:-1] if text == '1' else unit}"


@dataclass(frozen=True)
class Age:
    """An age from birth: the one representation every part of the library uses.

    ``days`` and ``months`` are the age measured in each unit. From two dates
    (:meth:`between`) both are calendar-exact: days elapsed, and completed calendar
    months plus the fraction of the month under way. A spoken age ("6 months",
    "2 y 3 m") has no calendar: its months are exact and its days use the average
    month (365.25 / 12 days), or the other way round for days and weeks. A band edge
    is compared in its own unit (:meth:`in_unit`), so "6 months" is at a
    "6 months" edge however long the months were. ``given`` says how the age was
    written; ``str(age)`` prints it the way people say ages.

    >>> age = Age.between(dt.date(2024, 1, 1), dt.date(2024, 1, 8))
    >>> age.days, str(age), Age.of(7, "days").days
    (7.0, '7 days', 7.0)
    >>> str(Age.of(18, "months")), str(Age.of(45, "years")), str(Age.of(0.5, "years"))
    ('18 months', '45 years', '6 months')
    """

    days: float
    months: float
    given: str = field(default="", compare=False)

    @property
    def years(self) -> float:
        """The age in years (months / 12)."""
        return self.months / 12

    @classmethod
    def of(cls, number: float, unit: str) -> Age:
        """``number`` of ``unit`` (any spelling of days, weeks, months or years).

        >>> Age.of(2, "wk").days, Age.of(1.5, "years").months
        (14.0, 18.0)
        """
        return _checked(_spoken(((float(number), age_unit(unit)),)), number)

    @classmethod
    def of_years(cls, years: float, given: str = "") -> Age:
        """An age of ``years`` years, unchecked (a band edge, a table's default adult age).

        >>> Age.of_years(1.5).months
        18.0
        """
        return cls(days=years * _DAYS_PER_YEAR, months=years * 12, given=given)

    @classmethod
    def between(cls, birth: dt.date, on: dt.date) -> Age:
        """The age on ``on`` of someone born on ``birth``, calendar-exact.

        A month is completed on the same day of the month as the birth day, or on
        the month's last day when it is shorter (born 31 January: one month on
        29 February in a leap year).

        >>> Age.between(dt.date(2024, 1, 31), dt.date(2024, 2, 29)).months
        1.0
        >>> str(Age.between(dt.date(2022, 5, 1), dt.date(2024, 6, 1)))
        '2 years'
        """
        if isinstance(birth, dt.datetime):
            birth = birth.date()
        if isinstance(on, dt.datetime):
            on = on.date()
        if on < birth:
            raise PersonError(
                f"the date {on.isoformat()} is before the birth date {birth.isoformat()}",
                raw=(birth, on),
            )
        completed = (on.year - birth.year) * 12 + on.month - birth.month
        reached = _months_after(birth, completed)
        if reached is None or reached > on:
            completed -= 1
        start = _months_after(birth, completed)
        assert start is not None  # at most ``on``, so within the calendar
        following = _months_after(birth, completed + 1)
        # a month that would end after the year 9999 is counted as 31 days long
        length = 31 if following is None else (following - start).days
        fraction = (on - start).days / length
        age = cls(
            days=float((on - birth).days),
            months=completed + fraction,
            given=f"born {birth.isoformat()}, seen {on.isoformat()}",
        )
        return _checked(age, age.given)

    def in_unit(self, unit: AgeUnit) -> float:
        """The age measured in ``unit``, for comparing with a band edge in that unit.

        >>> Age.of(3, "weeks").in_unit("weeks"), Age.of(2, "years").in_unit("months")
        (3.0, 24.0)
        """
        if unit == "days":
            return self.days
        if unit == "weeks":
            return self.days / 7
        if unit == "months":
            return self.months
        return self.months / 12

    def __str__(self) -> str:
        """Under a month in days, under two years in months, then in years (completed).

        A spoken age prints as it was given, tidied: ``"2 y 3 m"`` -> ``"2 years 3 months"``.
        """
        if self.given and not self.given.startswith("born "):
            return self.given
        if self.months < 1:
            return _plural(math.floor(self.days + 1e-9), "days")
        if self.months < 24:
            return _plural(math.floor(self.months + 1e-9), "months")
        return _plural(math.floor(self.months / 12 + 1e-9), "years")


def _months_after(birth: dt.date, months: int) -> dt.date | None:
    """The date ``months`` calendar months after ``birth`` (day clamped to the month's end);
    ``None`` after the year 9999."""
    year, month0 = divmod(birth.month - 1 + months, 12)
    year += birth.year
    if year > dt.MAXYEAR:
        return None
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(birth.day, last))


def _spoken(parts: Sequence[tuple[float, AgeUnit]]) -> Age:
    """An age from spoken parts such as ((2, "years"), (3, "months"))."""
    days = months = 0.0
    words = []
    for number, unit in parts:
        if unit == "years":
            months += number * 12
            days += number * _DAYS_PER_YEAR
        elif unit == "months":
            months += number
            days += number * _DAYS_PER_MONTH
        else:
            span = number * (7 if unit == "weeks" else 1)
            days += span
            months += span / _DAYS_PER_MONTH
        words.append(_plural(number, unit))
    given = " ".join(words)
    if len(parts) == 1 and parts[0][1] == "years" and parts[0][0] < 2:
        # a fraction of a year is said in months or days ("0.5" is "6 months")
        given = str(Age(days=days, months=months))
    return Age(days=days, months=months, given=given)


def _shown(value: object, limit: int = 40) -> str:
    """``repr`` of an input, cut to a short prefix (an error never echoes a huge input)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_age(age: Age | float | int | str | None) -> Age | None:
    """The :class:`Age` an input means, or ``None`` when no age was given.

    A bare number is years; a text may carry units, several parts adding up.

    >>> str(read_age("2 y 3 m")), read_age("7 days").days, read_age(None)
    ('2 years 3 months', 7.0, None)
    >>> read_age([3])
    Traceback (most recent call last):
    ...
    TypeError: age must be an Age, a number of years, a text or None, not list
    """
    if age is None or isinstance(age, Age):
        return age
    if isinstance(age, str):
        return _read_age_text(age)
    if isinstance(age, bool) or not isinstance(age, (int, float)):
        raise TypeError(
            f"age must be an Age, a number of years, a text or None, not {type(age).__name__}"
        )
    try:
        years = float(age)
    except OverflowError:
        years = math.inf
    if not math.isfinite(years) or years < 0 or years > MAX_AGE:
        raise _out_of_range(age)
    return _age_in_years(years)


@lru_cache(maxsize=1024)
def _age_in_years(years: float) -> Age:
    """The Age of a number of years (ages repeat: whole years, a few decimals)."""
    return _spoken(((years, "years"),))


def parse_age(age: Age | float | int | str | None) -> float | None:
    """The age in years, or ``None`` when no age was given (see :func:`read_age`).

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
    found = read_age(age)
    return None if found is None else found.years


def _out_of_range(raw: object) -> PersonError:
    return PersonError(
        f"age {_shown(raw)} cannot be read: it must be between 0 and {MAX_AGE:g} years", raw=raw
    )


@lru_cache(maxsize=1024)
def _read_age_text(text: str) -> Age | None:
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    if cleaned in AGE_WORDS:  # "newborn": day 0, said as written
        days = AGE_WORDS[cleaned]
        return Age(days=days, months=days / _DAYS_PER_MONTH, given=cleaned)
    if len(cleaned) > 60:
        raise PersonError(f"age {_shown(text)} cannot be read: too long for an age", raw=text)
    if cleaned[0] in "-−":
        raise _out_of_range(text)
    position = 0
    parts: list[tuple[float, AgeUnit]] = []
    while position < len(cleaned):
        match = _AGE_PART.match(cleaned, position)
        if match is None or match.end() == position:
            raise PersonError(
                f"age {_shown(text)} cannot be read: write a number of years, or a number "
                "with a unit such as '6 months', '10 days' or '2y'",
                raw=text,
            )
        number_text, unit = match.groups()
        number = float(number_text.replace(",", "."))
        if unit is None:
            if parts or match.end() < len(cleaned):
                raise PersonError(
                    f"age {_shown(text)} cannot be read: a part has no unit", raw=text
                )
            unit = "years"
        try:
            parts.append((number, age_unit(unit)))
        except PersonError:
            raise PersonError(
                f"age {_shown(text)} cannot be read: unknown unit {unit!r}; use years, months, "
                "weeks or days",
                raw=text,
            ) from None
        position = match.end()
    return _checked(_spoken(parts), text)


def _checked(age: Age, raw: object) -> Age:
    if not (math.isfinite(age.months) and math.isfinite(age.days)):
        raise _out_of_range(raw)
    if age.days < 0 or age.months < 0 or age.months > MAX_AGE * 12:
        raise _out_of_range(raw)
    return age


def parse_sex(sex: str | None) -> Sex:
    """``"female"``, ``"male"`` or ``"unknown"``; never assumes male.

    >>> parse_sex("Male"), parse_sex("f"), parse_sex("x"), parse_sex("")
    ('male', 'female', 'unknown', 'unknown')
    """
    if sex is None:
        return "unknown"
    if not isinstance(sex, str):
        raise TypeError(f"sex must be a text or None, not {type(sex).__name__}")
    return _SEXES.get(sex.strip().lower(), "unknown")


def sex_is_recognised(sex: str | None) -> bool:
    """Whether ``sex`` was given and read as female or male (else it counts as unknown).

    >>> sex_is_recognised("F"), sex_is_recognised("other"), sex_is_recognised(None)
    (True, False, False)
    """
    return (
        sex is not None
        and sex.strip().lower() in _SEXES
        and _SEXES[sex.strip().lower()] != "unknown"
    )


def sex_is_known_code(sex: str | None) -> bool:
    """Whether ``sex`` is one of :data:`SEX_CODES`, "unknown" codes included (no warning).

    >>> sex_is_known_code("U"), sex_is_known_code("w"), sex_is_known_code("other")
    (True, True, False)
    """
    return sex is not None and sex.strip().lower() in _SEXES


def normalise_words(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation dropped.

    >>> normalise_words("  Black/African-American ")
    'black african american'
    """
    return " ".join(_NOT_WORD.split(text.lower())).strip()


#: how much of an ethnicity text is read (a longer text is cut at a word boundary)
_ETHNICITY_TEXT_LIMIT = 200
#: words that negate the rest of their clause ("not Black", "no African ancestry")
_NEGATIONS = frozenset({"not", "no", "neither", "nor", "without", "except", "excluding"})
#: a word that ends a negation inside a clause ("not Hispanic but Black")
_NEGATION_END = "but"
#: a prefix that negates the one word after it: "non-Black" is not Black, while
#: "non-Hispanic Black" is Black
_PREFIX_NEGATIONS = frozenset({"non"})
#: words that, just before a group's spelling, make a compound naming a white person from a
#: place ("White South African", "White Kenyan"): the spelling is then a place, not ancestry
_WHITE = frozenset({"white", "caucasian"})
#: words that may stand between those and the place ("White *South* African")
_DIRECTIONS = frozenset(
    {"north", "south", "east", "west", "central", "northern", "southern", "eastern", "western"}
)
# clauses end at these marks; a negation never reaches past them ("Not Hispanic, Black")
_CLAUSE_BREAK = re.compile(r"[,;:.!?()\[\]{}|\n\r]")
_TRAILING_WORD = re.compile(r"[a-z0-9]+$")

#: each first word -> the spellings that start with it (as word tuples, longest first), each
#: with its group
_AliasIndex = Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]


@lru_cache(maxsize=16)
def _alias_index(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> _AliasIndex:
    """The spellings of ``groups`` (each group's own name among them) by their first word."""
    found: dict[str, dict[tuple[str, ...], str]] = {}
    for group, aliases in groups:
        for spelling in (normalise_words(group), *aliases):
            words = tuple(spelling.split())
            if words:
                found.setdefault(words[0], {}).setdefault(words, group)  # first group wins
    return {
        first: tuple(sorted(spellings.items(), key=lambda item: -len(item[0])))
        for first, spellings in found.items()
    }


def _ethnicity_clauses(text: str) -> list[list[str]]:
    """The words of each clause of the first characters of ``text``, lower case."""
    head = text[:_ETHNICITY_TEXT_LIMIT].lower()
    if len(text) > _ETHNICITY_TEXT_LIMIT and not _NOT_WORD.fullmatch(
        text[_ETHNICITY_TEXT_LIMIT].lower()
    ):
        head = _TRAILING_WORD.sub("", head)  # the cut fell inside a word: drop its start
    return [
        [word for word in _NOT_WORD.split(clause) if word] for clause in _CLAUSE_BREAK.split(head)
    ]


def _is_negated_compound(words: Sequence[str], position: int) -> bool:
    """Whether the spelling at ``position`` follows "non", or "white" (and a direction)."""
    before = position - 1
    if before >= 0 and words[before] in _PREFIX_NEGATIONS:
        return True
    while before >= 0 and words[before] in _DIRECTIONS:
        before -= 1
    return before >= 0 and words[before] in _WHITE


def match_ethnicity(text: str | None, groups: Mapping[str, Sequence[str]]) -> str | None:
    """The group of the first spelling of a group (its name or an alias) in ``text``.

    ``groups`` maps a group name to its aliases, already passed through
    :func:`normalise_words`. Spellings match as whole words, ignoring case and
    punctuation; at each word the longest spelling wins, so "Middle Eastern or North
    African" is read through "north african" (``middle_eastern``), never through
    "african". A spelling does not count when it is negated: after "not", "no",
    "without"... in the same clause (up to a comma, a semicolon, a bracket... or
    "but"), right after "non" ("non-Black"; "non-Hispanic Black" is Black), or in a
    compound naming a white person from a place ("White South African"). Only the
    first 200 characters are read, so the time is bounded. Text that matches nothing
    gives ``None``.

    >>> groups = {"african": ["african", "black"], "middle_eastern": ["arab", "north african"]}
    >>> match_ethnicity("Black or African American", groups)
    'african'
    >>> match_ethnicity("Arab", groups), match_ethnicity("Blackburn", groups)
    ('middle_eastern', None)
    >>> match_ethnicity("North African", groups), match_ethnicity("not Black", groups)
    ('middle_eastern', None)
    >>> match_ethnicity("White South African", groups)
    >>> match_ethnicity("Non-Hispanic Black", groups)
    'african'
    """
    if not text:
        return None
    index = _alias_index(tuple((group, tuple(aliases)) for group, aliases in groups.items()))
    for words in _ethnicity_clauses(text):
        negated = False
        position = 0
        while position < len(words):
            word = words[position]
            if word in _NEGATIONS:
                negated = True
            elif word == _NEGATION_END:
                negated = False
            for spelling, group in index.get(word, ()):
                end = position + len(spelling)
                if tuple(words[position:end]) == spelling:
                    if not negated and not _is_negated_compound(words, position):
                        return group
                    position = end - 1  # a negated spelling is passed over whole
                    break
            position += 1
    return None


#: the Duffy blood group statuses, and the spellings read as each
_DUFFY: Mapping[str, Literal["null", "positive"]] = {
    **dict.fromkeys(
        ("null", "duffy null", "duffy-null", "fy(a-b-)", "fy a-b-", "fya-b-", "negative", "neg",
         "duffy negative", "fy null", "ackr1 null"),
        "null",
    ),
    **dict.fromkeys(
        ("positive", "pos", "duffy positive", "fy(a+b-)", "fy(a-b+)", "fy(a+b+)", "fy(a+)",
         "fy(b+)"),
        "positive",
    ),
}  # fmt: skip


def parse_duffy(duffy: str | None) -> Literal["null", "positive"] | None:
    """The Duffy blood group status: ``"null"`` (Fy(a-b-)), ``"positive"`` or ``None``.

    Duffy status is a blood group, not an ancestry: only a given status selects the
    Duffy-null ranges.

    >>> parse_duffy("Fy(a−b−)"), parse_duffy("positive"), parse_duffy(None)
    ('null', 'positive', None)
    >>> parse_duffy("maybe")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.PersonError: Duffy status 'maybe' cannot be read: ..., or leave it out
    """
    if duffy is None:
        return None
    if not isinstance(duffy, str):
        raise TypeError(f"duffy must be a text or None, not {type(duffy).__name__}")
    text = " ".join(duffy.strip().lower().replace("−", "-").replace("–", "-").split())
    if not text:
        return None
    found = _DUFFY.get(text) or _DUFFY.get(text.replace(" ", ""))
    if found is None:
        raise PersonError(
            f"Duffy status {_shown(duffy)} cannot be read: use null (Fy(a-b-)), positive, "
            "or leave it out",
            raw=duffy,
        )
    return found
