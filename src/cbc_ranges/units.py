"""Units of a WBC count: a lab's unit text read into a factor to 10^9 cells/L.

A white blood cell count is a number of cells per volume. Labs write the same
unit in dozens of ways (``K/uL``, ``THOU/CUMM``, ``x10E3/uL``, ``G/L``, ``/nl``,
``109/L`` with its superscript lost...). pint on its own misreads many of them
without an error (``K`` is kelvin, ``G`` is gauss, ``10E9`` is 10^10), so the
text is first normalised here:

1. clean-up: letter case, spaces, the micro signs ``µ``/``μ``/``mc``, the
   mojibake ``Âµ``, superscript digits, ``×``, ``per``;
2. a small grammar reads ``[x] multiplier [count word] / volume``, where the
   multiplier is ``10^n`` in any of its spellings (``10*9``, ``10E9``, ``10(9)``,
   a lost superscript ``109``) or a word (``K``, ``thousand``, ``G``, ``Tsd``...);
3. ``multiplier cell / volume`` becomes 10^9 cells/L by powers of ten: every
   volume the grammar knows (uL, mm3, L, nL, mL, dL) is an exact power of ten of a
   litre, and the tests check each against pint.

What a unit of another kind measures (``mg/dL`` is a mass concentration) is read
by a small grammar of our own over the units of ``cell_units.txt``, so the error
can say so. pint is never asked about a lab's text at run time: it evaluates the
numbers in a unit expression (``9^9^9^9`` never returns). pint, with one registry
built lazily from the same ``cell_units.txt``, stays the authority the tests check
against: the volume table and the dimension reader must agree with it.

Only the powers of ten labs use for cell counts are read (:data:`POWERS_OF_TEN`:
``10^9/L``, ``10^3/uL``, ``10^6/mL``...); ``10^99/L`` is refused, not read as a
number no count could be. A unit text longer than :data:`MAX_UNIT_CHARS` is
refused unread, and every step here is linear in the length of the text.
A spelling costs the work above once; after that it is a dictionary look-up.
The spellings labs are known to use are listed, with where they come from, in
``unit_spellings.csv`` (``docs/units.md`` is generated from it).

>>> read_unit("K/uL").factor
1.0
>>> read_unit("cells/µL").factor
0.001
>>> read_unit("G/L").canonical
'10*9/L'
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from cbc_ranges.data import load
from cbc_ranges.errors import UnitError, suggest

if TYPE_CHECKING:
    import pint

__all__ = [
    "MAX_UNIT_CHARS",
    "POWERS_OF_TEN",
    "UnitReading",
    "UnitSpelling",
    "read_unit",
    "unit_dimension",
    "unit_spellings",
    "units_markdown",
]


@dataclass(frozen=True, slots=True)
class UnitReading:
    """A unit text as read: ``factor`` converts one of it to 10^9 cells/L.

    ``to_canonical(x)`` is ``x * factor`` without float noise: per-cell units divide
    by their power of ten, so 3800 /uL is 3.8, not 3.8000000000000003.
    """

    text: str
    canonical: str
    factor: float

    def to_canonical(self, number: float) -> float:
        """``number`` of this unit in 10^9 cells/L.

        >>> read_unit("/uL").to_canonical(3800)
        3.8
        """
        if self.factor >= 1:
            return number * self.factor
        return number / round(1 / self.factor)


@dataclass(frozen=True, slots=True)
class UnitSpelling:
    """A row of ``unit_spellings.csv``: a spelling labs use, and where."""

    spelling: str
    factor: float
    canonical: str
    group: str
    note: str


# ---------------------------------------------------------------- bounds

#: The longest unit text (spaces around it aside) the library analyses. The longest
#: real spelling is about 30 characters; longer text is refused unread, so no step
#: below ever works on unbounded input.
MAX_UNIT_CHARS = 100

#: The powers of ten of a count unit, by volume: the multiplier ``n`` of
#: ``10^n cells / volume`` labs use. One of each is between 1 cell/L and 10^12
#: cells/L (10^12/L is the red-cell unit; a WBC in it draws a magnitude warning);
#: 10^2/uL is the Japanese "hundreds per microlitre". Anything else (10^99/L,
#: 10^1/nL) is no lab's unit and is refused rather than read.
POWERS_OF_TEN: dict[str, tuple[int, ...]] = {
    "L": (0, 3, 6, 9, 12),
    "mL": (0, 3, 6, 9),
    "uL": (0, 2, 3, 6),
    "mm3": (0, 2, 3, 6),
    "nL": (0, 3),
    "dL": (),  # no lab counts cells per decilitre; dL is here for mg/dL's sake
}

_QUOTED_CHARS = 40


def quoted_input(text: object) -> str:
    """``text`` quoted for an error message, cut to a short prefix: a 1 MB cell is no message.

    >>> quoted_input("K/uL")
    "'K/uL'"
    >>> quoted_input("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' (100 characters)"
    """
    if not isinstance(text, str):
        text = f"<{type(text).__name__}>"
    if len(text) <= _QUOTED_CHARS:
        return repr(text)
    return f"{text[:_QUOTED_CHARS] + '…'!r} ({len(text)} characters)"


# ---------------------------------------------------------------- normalising

_MOJIBAKE = {
    "Âµ": "µ",  # UTF-8 micro sign read as Latin-1
    "Î¼": "μ",  # UTF-8 Greek mu read as Latin-1 / cp1252
    "Ã—": "×",
    "Â³": "³",
    "Â²": "²",
    "Â": "",  # a stray one left by a non-breaking space read as Latin-1
}
_MOJIBAKE_RE = re.compile("|".join(re.escape(k) for k in _MOJIBAKE))
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
# "per" between words: one run of spaces each side, never two quantifiers over the same spaces
_PER_WORD = re.compile(r"(?:^|(?<=\s))per\s+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def _compact(text: str) -> str:
    """The unit text with spaces, micro signs and superscripts made plain; case kept."""
    text = _MOJIBAKE_RE.sub(lambda m: _MOJIBAKE[m.group(0)], text)
    # mm³ is mm3, 10⁹ is 10^9: superscripts after a base become an exponent
    text = _SUPERSCRIPT_RUN.sub(
        lambda m: (
            (
                ""
                if m.string[max(0, m.start() - 8) : m.start()].rstrip().lower().endswith("mm")
                else "^"
            )
            + m.group(0).translate(_SUPERSCRIPTS)
        ),
        text,
    )
    text = _PER_WORD.sub("/", text)
    # µ upper-cased by an export becomes a Greek capital mu (U+039C)
    for micro in ("µ", "μ", "Μ"):
        text = text.replace(micro, "u")
    text = text.replace("×", "x").replace("·", "*")
    return _SPACE.sub("", text)


# the grammar, over the compact, lower-cased text; digits are ASCII only ([0-9], never \d,
# which matches any script's digits: an N'Ko two is no exponent)
_MULTIPLIER_WORDS: dict[str, int] = {
    "k": 3,
    "th": 3,
    "thou": 3,
    "thous": 3,
    "thousand": 3,
    "thousands": 3,
    "tsd": 3,
    "tsd.": 3,
    "tausend": 3,
    "miles": 3,  # Spanish
    "mil": 3,  # Portuguese
    "1000": 3,
    "g": 9,  # giga, only in upper case (lower-case g/L is grams per litre)
    "giga": 9,
    "gpt": 9,  # German: Gigapartikel per litre
    "bil": 9,  # US: billion per litre
    "bill": 9,  # lab catalogues: bill/L
    "billion": 9,
}
_COUNT_WORDS = (
    r"cells?|\#|n|wbcs?|leu[ck]ocytes?|leuks?|leu|{[^{}]*}"
    r"|zellen|leukozyten|[ée]l[ée]ments|[ée]lts|c[ée]l|c[ée]lulas|leuc[óo]citos"
)
_VOLUMES: dict[str, tuple[str, str, int]] = {
    # spelling: (pint expression, UCUM, litres as a power of ten: 1 uL = 1e-6 L);
    # tests/test_units.py checks every power of ten against pint
    "ul": ("microliter", "uL", -6),
    "mcl": ("microliter", "uL", -6),
    "microl": ("microliter", "uL", -6),
    "microliter": ("microliter", "uL", -6),
    "microliters": ("microliter", "uL", -6),
    "microlitre": ("microliter", "uL", -6),
    "microlitres": ("microliter", "uL", -6),
    "mm3": ("millimeter ** 3", "mm3", -6),
    "mm^3": ("millimeter ** 3", "mm3", -6),
    "mm**3": ("millimeter ** 3", "mm3", -6),
    "cumm": ("millimeter ** 3", "mm3", -6),
    "cu.mm": ("millimeter ** 3", "mm3", -6),
    "cmm": ("millimeter ** 3", "mm3", -6),
    "mmc": ("millimeter ** 3", "mm3", -6),  # Italian: millimetri cubi
    "cubicmillimeter": ("millimeter ** 3", "mm3", -6),
    "cubicmillimetre": ("millimeter ** 3", "mm3", -6),
    "l": ("liter", "L", 0),
    "liter": ("liter", "L", 0),
    "litre": ("liter", "L", 0),
    "nl": ("nanoliter", "nL", -9),
    "nanoliter": ("nanoliter", "nL", -9),
    "nanolitre": ("nanoliter", "nL", -9),
    "ml": ("milliliter", "mL", -3),
    "milliliter": ("milliliter", "mL", -3),
    "millilitre": ("milliliter", "mL", -3),
    "dl": ("deciliter", "dL", -1),
}
# every part is optional at most once and each alternative is a fixed word or one bounded run,
# so a match costs a constant number of linear passes (no nested or adjacent repeats)
_UNIT_GRAMMAR = re.compile(
    r"""
    ^[x*]?                                                # x10^9, *10^9, ×10^9
    (?:
        10(?:\^|\*\*|\*|exp|e|x)\+?(?P<exp>[0-9]{1,2})  # 10^9 10*9 10**9 10e9 (10E9 = 10^9) 10x9
      | 10\((?P<bracketed>[0-9]{1,2})\)                   # 10(9)
      | 10(?P<lost>2|3|6|9|12)(?=[^0-9])                  # 10³ that lost its superscript: 103, 109
      | e(?P<bare_exp>[0-9]{1,2})                         # x E9/L
      | (?P<word>k|th|thous?|thousands?|tsd\.?|tausend|miles|mil|1000|g|giga|gpt|bill?|billion)
    )?
    (?P<count>(?:"""
    + _COUNT_WORDS
    + r"""))?
    /
    (?P<volume>[a-z0-9.^*]+)                              # microliters: the s is dropped below
    $""",
    re.VERBOSE,
)
# a multiplier and/or a count word and nothing else: "10*3", "K", "cells" (one of each at most;
# the old "(...)+" over overlapping words backtracked exponentially on "leukleukleuk...x")
_NO_VOLUME = re.compile(
    r"[x*]?(?:10(?:\^|\*\*|\*|e|x)[0-9]{1,2}|10\([0-9]{1,2}\)|k|thou|thousand)?(?:"
    + _COUNT_WORDS
    + r")?"
)
_MICROSCOPY = re.compile(r"[hl]pf|field")


# ---------------------------------------------------------------- dimensions

_DEFINITIONS_FILE = "cell_units.txt"
_Dimension = dict[str, int]
# a unit symbol or name, then an optional exponent: mm3, m^2, L**-1
_UNIT_TERM = re.compile(r"([A-Za-z_%]+)(?:(?:\^|\*\*)?(-?[1-9]))?")
_MAX_TERMS = 8


def _unit_table() -> tuple[dict[str, _Dimension], tuple[str, ...]]:
    """Units and prefixes of ``cell_units.txt``, each unit with its dimension (loaded once)."""
    return load("units.dimensions", _read_unit_table)


def _read_unit_table() -> tuple[dict[str, _Dimension], tuple[str, ...]]:
    """Units and prefixes of ``cell_units.txt``, each unit with its dimension.

    The file is pint's definitions syntax; only the few forms it uses are read here
    (``name = [dimension] = alias``, ``name = number = alias``, ``name = prefixed unit
    ** n = alias``, ``prefix- = factor = alias-``). The tests check the result against
    pint's reading of the same file.
    """
    text = resources.files("cbc_ranges").joinpath(_DEFINITIONS_FILE).read_text("utf-8")
    units: dict[str, _Dimension] = {}
    prefixes: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, definition, *aliases = (part.strip() for part in line.split("="))
        names = [n for n in (name, *aliases) if n.rstrip("-") != "_"]
        if name.endswith("-"):
            prefixes += [n.rstrip("-") for n in names]
            continue
        if definition.startswith("["):
            dimension: _Dimension | None = {definition: 1}
        elif re.fullmatch(r"[0-9.e+-]+", definition):
            dimension = {}
        else:
            dimension = _dimension_of(definition.replace(" ", ""), units, tuple(prefixes))
        if dimension is None:
            raise ValueError(f"{_DEFINITIONS_FILE}: cannot read the definition {line!r}")
        for alias in names:
            units[alias] = dimension
    # longest prefix first: "mc" (micro) before "m" (milli)
    return units, tuple(sorted(prefixes, key=len, reverse=True))


def _unit_dimension(
    word: str, units: dict[str, _Dimension], prefixes: tuple[str, ...]
) -> _Dimension | None:
    """The dimension of one unit word, with an optional prefix and plural s: mg, cells, liters."""
    for candidate in (word, word[:-1] if word.endswith("s") and len(word) > 3 else ""):
        if candidate in units:
            return units[candidate]
        for prefix in prefixes:
            if candidate.startswith(prefix) and candidate[len(prefix) :] in units:
                return units[candidate[len(prefix) :]]
    return None


def _dimension_of(
    expression: str, units: dict[str, _Dimension], prefixes: tuple[str, ...]
) -> _Dimension | None:
    """The dimension of ``a/b*c^2``-style unit text, or None when it is not one.

    Read left to right as pint does (``a/b*c`` is ``(a/b)*c``), by a scan that looks
    at each character once; numbers other than a one-digit exponent are refused,
    never evaluated.
    """
    total: _Dimension = {}
    position, sign, terms = 0, 1, 0
    if expression.startswith("/"):  # "/HPF" is per field
        position, sign = 1, -1
    while terms < _MAX_TERMS:
        match = _UNIT_TERM.match(expression, position)
        if match is None:
            return None
        dimension = _unit_dimension(match[1], units, prefixes)
        if dimension is None:
            return None
        power = sign * int(match[2] or 1)
        for base, exponent in dimension.items():
            total[base] = total.get(base, 0) + exponent * power
        terms += 1
        position = match.end()
        if position == len(expression):
            return {base: exponent for base, exponent in total.items() if exponent}
        separator = expression[position]
        if separator not in "/*.":
            return None
        sign = -1 if separator == "/" else 1
        position += 1
    return None


def unit_dimension(text: str) -> dict[str, int] | None:
    """What a short unit text measures, as pint would say it; None when it is not a unit.

    Bounded and linear: no pint, no evaluation of numbers.

    >>> unit_dimension("mg/dL")
    {'[mass]': 1, '[length]': -3}
    >>> unit_dimension("9^9^9^9") is None
    True
    """
    if not isinstance(text, str) or len(text) > MAX_UNIT_CHARS:
        return None
    units, prefixes = _unit_table()
    return _dimension_of(text.replace("**", "^"), units, prefixes)


_DIMENSION_WORDS: dict[tuple[tuple[str, int], ...], str] = {
    (("[length]", -3), ("[mass]", 1)): "a mass concentration (as in mg/dL or g/L)",
    (("[length]", -3), ("[substance]", 1)): "a substance concentration (as in mmol/L)",
    (("[length]", 3),): "a volume (as in L, mL or fL)",
    (("[mass]", 1),): "a mass",
    (("[cells]", 1),): "a count with no volume",
    (("[cells]", 1), ("[microscope_field]", -1)): (
        "a count per microscope field (urine or fluid microscopy)"
    ),
    (("[catalytic_activity]", 1), ("[length]", -3)): "an enzyme activity (as in U/L)",
    (): "a dimensionless number (as in %)",
}
_CELLS_PER_VOLUME = (("[cells]", 1), ("[length]", -3))


def _dimension_text(dimension: _Dimension) -> str:
    """``[mass] / [length] ** 3``: a dimension written as pint writes it."""

    def power(base: str, exponent: int) -> str:
        return base if exponent == 1 else f"{base} ** {exponent}"

    above = " * ".join(power(b, e) for b, e in dimension.items() if e > 0) or "1"
    below = " * ".join(power(b, -e) for b, e in dimension.items() if e < 0)
    return f"{above} / {below}" if below else above


def _other_dimension(compact: str) -> str | None:
    """Describe what a unit that is not a count per volume measures, if it is a unit at all."""
    dimension = unit_dimension(compact)
    if dimension is None:
        return None
    key = tuple(sorted(dimension.items()))
    if key == _CELLS_PER_VOLUME:
        return None
    return _DIMENSION_WORDS.get(key, f"a quantity of dimension {_dimension_text(dimension)}")


# ---------------------------------------------------------------- pint, for the tests


def _unit_registry() -> pint.UnitRegistry[Any]:
    """The one pint registry, built on first use from ``cell_units.txt``."""
    return load("units.pint_registry", _build_unit_registry)


def _build_unit_registry() -> pint.UnitRegistry[Any]:
    import pint

    registry: pint.UnitRegistry[Any] = pint.UnitRegistry(None)
    text = resources.files("cbc_ranges").joinpath(_DEFINITIONS_FILE).read_text("utf-8")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            registry.define(line)
    return registry


def pint_cells_per_litre(multiplier: float, volume: str) -> float:
    """What ``multiplier cell / volume`` is in 10^9 cells/L, by pint.

    The parser uses the powers of ten of its volume table instead, so that reading a
    count needs neither pint's import (~0.3 s) nor its arithmetic; the tests check
    that this function and the table agree for every volume. ``volume`` is one of
    the table's own pint expressions, never a lab's text.

    >>> pint_cells_per_litre(1e3, "millimeter ** 3")
    1.0
    """
    registry = _unit_registry()
    quantity = registry.Quantity(multiplier, f"cell / ({volume})")
    magnitude = float(quantity.to("cell / liter").magnitude) / 1e9
    return float(f"{magnitude:.12g}")  # 1e3 cell/mm3 is 1.0000000000000002 in floats


# ---------------------------------------------------------------- reading


def _read_compact(compact: str, text: str) -> tuple[float, str] | None:
    """Factor and UCUM unit of a compact unit text, or None when the grammar does not fit.

    Raises :class:`UnitError` for a count unit with a power of ten no lab uses.
    """
    lowered = compact.lower()
    match = _UNIT_GRAMMAR.match(lowered)
    if match is None:
        return None
    spelled = match["volume"]
    volume = _VOLUMES.get(spelled) or (
        _VOLUMES.get(spelled[:-1]) if spelled.endswith("s") else None
    )
    if volume is None:
        return None
    _, ucum_volume, litres_exponent = volume
    word = match["word"]
    if word is not None:
        if _MULTIPLIER_WORDS[word] == 9:
            start = match.start("word")
            # giga only for litres, and a bare g must be a capital G: g/L is grams per litre
            if ucum_volume != "L" or (word == "g" and compact[start] != "G"):
                return None
        exponent = _MULTIPLIER_WORDS[word]
    else:
        digits = match["exp"] or match["bracketed"] or match["lost"] or match["bare_exp"]
        exponent = int(digits) if digits else 0
    if exponent not in POWERS_OF_TEN[ucum_volume]:
        used = ", ".join(f"10^{n}" if n else "1" for n in POWERS_OF_TEN[ucum_volume])
        multiplier = f"10^{exponent} " if exponent else ""
        known = f"per {ucum_volume}: {used}" if used else f"no lab counts per {ucum_volume}"
        raise UnitError(
            f"{quoted_input(text)} is {multiplier}cells per {ucum_volume}, not a unit labs use "
            f"for cell counts ({known})",
            raw=text,
            unit=text,
        )
    factor = float(f"1e{exponent - litres_exponent - 9}")  # exact: 10^3 / 10^-6 L = 10^9 / L
    prefix = f"10*{exponent}" if exponent else ""
    return factor, f"{prefix}/{ucum_volume}"


_READINGS: dict[str, UnitReading | UnitError] = {}
_READINGS_LIMIT = 10_000  # distinct spellings are few; this only bounds junk input
_CACHED_CHARS = 2 * MAX_UNIT_CHARS  # longer keys are not kept: junk must not fill memory


def read_unit(text: str) -> UnitReading:
    """Read a unit text as written by a lab; raises :class:`UnitError` when it is not one.

    A text that is not a ``str`` is a :class:`TypeError`.

    >>> read_unit("THOU/CUMM").canonical
    '10*3/mm3'
    >>> read_unit("10E9/L").factor  # lab use: 10E9 is 10^9, not 10^10
    1.0
    >>> read_unit("mg/dL")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.UnitError: 'mg/dL' is a mass concentration ...
    """
    try:
        known = _READINGS.get(text)
    except TypeError:  # unhashable: a list, a dict
        known = None
    if known is None:
        if not isinstance(text, str):
            raise TypeError(f"unit must be str or None, not {type(text).__name__}")
        try:
            known = _read_new(text)
        except UnitError as error:
            known = error.with_traceback(None)  # a cached traceback would keep its frames alive
        if len(text) <= _CACHED_CHARS:
            if len(_READINGS) >= _READINGS_LIMIT:
                _READINGS.clear()
            _READINGS[text] = known
    if isinstance(known, UnitError):
        # a fresh exception each time: a raised instance collects a traceback
        raise UnitError(
            known.message, raw=known.raw, unit=known.unit, suggestions=known.suggestions
        )
    return known


def _read_new(text: str) -> UnitReading:
    stripped = text.strip()
    if len(stripped) > MAX_UNIT_CHARS:
        raise UnitError(
            f"the unit text {quoted_input(stripped)} is too long to be a unit "
            f"(at most {MAX_UNIT_CHARS} characters)",
            raw=text,
            unit=text,
        )
    compact = _compact(stripped)
    if not compact:
        raise UnitError("the unit is empty", raw=text, unit=text, suggestions=["10*9/L"])
    reading = _read_compact(compact, text)
    if reading is not None:
        return UnitReading(text=text, canonical=reading[1], factor=reading[0])
    lowered = compact.lower()
    if _MICROSCOPY.search(lowered):
        what = "a count per microscope field (urine or fluid microscopy)"
    elif _NO_VOLUME.fullmatch(lowered):
        what = "a count with no volume"
    else:
        what = _other_dimension(compact) or ""
    if what:
        if lowered == "g/l":
            suggestions = ["G/L"]
        elif what in ("a count with no volume", "a volume (as in L, mL or fL)"):
            suggestions = _near(compact, 2)  # '10*3' -> '10*3/uL', 'L' -> '/L'
        else:
            suggestions = []  # mg/dL is no misspelling of a count unit
        raise UnitError(
            f"{quoted_input(text)} is {what}, not a count of cells per volume",
            raw=text,
            unit=text,
            suggestions=suggestions,
        )
    raise UnitError(
        f"unknown WBC count unit {quoted_input(text)}",
        raw=text,
        unit=text,
        suggestions=_near(compact, 3),
    )


def _spellings_by_key() -> dict[str, str]:
    def build() -> dict[str, str]:
        by_key: dict[str, str] = {}
        for row in unit_spellings():  # the first spelling of a key wins: K/uL before K/μL
            by_key.setdefault(_compact(row.spelling).lower(), row.spelling)
        return by_key

    return load("units.spellings_by_key", build)


def _near(compact: str, how_many: int) -> list[str]:
    """Known spellings close to a compact unit text (at most 100 characters), best first."""
    by_key = _spellings_by_key()
    matches = suggest(compact.lower(), by_key, n=how_many)
    return [by_key[k] for k in matches]


# ---------------------------------------------------------------- the table


def unit_spellings() -> tuple[UnitSpelling, ...]:
    """The known lab spellings of ``unit_spellings.csv``, in file order (loaded once)."""
    return load("units.spellings", _read_unit_spellings)


def _read_unit_spellings() -> tuple[UnitSpelling, ...]:
    text = resources.files("cbc_ranges").joinpath("unit_spellings.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return tuple(
        UnitSpelling(
            spelling=row["spelling"],
            factor=float(row["factor"]),
            canonical=row["canonical"],
            group=row["group"],
            note=row["note"],
        )
        for row in csv.DictReader(io.StringIO("\n".join(lines)))
    )


def _factor_of(exponent: int, ucum_volume: str) -> float:
    litres_exponent = next(v[2] for v in _VOLUMES.values() if v[1] == ucum_volume)
    return float(f"1e{exponent - litres_exponent - 9}")


def units_markdown() -> str:
    """``docs/units.md``: every known spelling with the factor the parser reads it as."""
    out = [
        "# Accepted unit spellings",
        "",
        "<!-- generated by `python -m cbc_ranges.units > docs/units.md`; do not edit -->",
        "",
        "A WBC count is read into **10⁹ cells/L**, which is the same number as 10³ cells/µL",
        "(K/uL). The *factor* is what one of the unit is in 10⁹ cells/L. Every spelling",
        "below is read by the same rules, so variants of it are read too:",
        "",
        "- any letter case and spacing (`K/UL`, `x 10^9 / L`), `per` for `/`;",
        "- micro written `u`, `µ` (U+00B5), `μ` (U+03BC), `mc` or the mojibake `Âµ`;",
        "- the multiplier `10^n` as `10*n`, `10**n`, `10En` (10E9 is 10⁹ in lab use), `10xn`",
        "  (the caret typed as an x: `10x9/L`), `10(n)`, `10ⁿ`, with or without `x`/`×`/`*`",
        "  before it, or with its superscript lost (`103`, `109`); or as a word: `K`, `thou`,",
        "  `thous`, `thousand`, `Tsd`, `miles`, `mil` (10³), `G`, `Giga`, `bil`, `bill`,",
        "  `billion` (10⁹, litres only; lower-case `g/L` is grams per litre and is refused);",
        "- an optional count word: `cells`, `#`, `WBC`, `leukocytes` or a UCUM annotation `{…}`;",
        "- the volume: `uL`, `mm3`/`mm³`/`cumm`/`cmm`/`cu mm` (all 1 µL), `L`, `nL`, `mL`.",
        "",
        "Units of another kind (`mg/dL`, `g/dL`, `%`, `fL`, `mmol/L`, `L`, `/HPF`, `cells` with no",
        "volume) are refused with a `UnitError` that says what they measure; unknown spellings",
        "with the closest known ones.",
        "",
        "## Powers of ten",
        "",
        "Only the powers of ten labs use for cell counts are read; any other (`10^99/L`,",
        "`10^19/L`, `10^1/nL`) is refused with a `UnitError`, never read as a number no count",
        "could be. Exponents are ASCII digits or superscripts (an N'Ko or Arabic-Indic digit is",
        "no exponent).",
        "",
        "| volume | multipliers read | one of the unit in 10⁹/L |",
        "| --- | --- | --- |",
        *(
            f"| {volume} | "
            + (", ".join(f"10^{n}" if n else "1 (no multiplier)" for n in powers) or "none")
            + " | "
            + (", ".join(f"{_factor_of(n, volume):g}" for n in powers) or "—")
            + " |"
            for volume, powers in POWERS_OF_TEN.items()
        ),
        "",
        f"Unit text longer than {MAX_UNIT_CHARS} characters (spaces around it aside) is refused",
        "unread. What a unit of another kind measures is read by the library's own small",
        "grammar over `cell_units.txt`; pint checks that grammar and the volume table in the",
        "tests but never reads a lab's text (see [reliability](reliability.md)).",
        "",
        "## Known spellings",
        "",
        "| spelling | factor to 10⁹/L | read as (UCUM) | used by | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in unit_spellings():
        reading = read_unit(row.spelling)
        spelling = row.spelling.replace("|", "\\|")
        out.append(
            f"| `{spelling}` | {reading.factor:g} | `{reading.canonical}` | {row.group} | "
            f"{row.note} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(units_markdown(), end="")
