"""Row-level interpretation: the raw cells of one lab row in, the ``wbc_*`` result cells out.

This is the core that the CSV batch (:mod:`cbc_ranges.batch`) and the DataFrame
face share. A :class:`RowInterpreter` takes the cells a row holds for the value,
the unit, the age, the sex and the ethnicity (any of them may be missing) and
returns one string per name in :data:`RESULT_COLUMNS`. A row that cannot be read
(a bad value, an unknown unit, an impossible age) is not an exception: it gets an
empty ``wbc_flag`` and a one-line ``wbc_error``.

Results repeat a great deal in lab files: a few unit spellings, a few age bands,
two or three sexes. The interpreter therefore works in three cached steps:

* **parse**: (value text, unit text) -> a :class:`ParsedCell`, the count read
  by :func:`~cbc_ranges.count.parse_count` or the error it raised;
* **person**: (age, sex, ethnicity) text -> a :class:`PersonClass`: what
  :func:`~cbc_ranges.interpretation.prepare` decides from the person alone (the
  rows that apply and the person-level warnings), or the error the person's
  cells raise. People who share all of it share one class object, because the
  output columns never show the exact age;
* **combine**: (parsed cell, person class) -> the finished row entry, kept in a
  dict on the parsed cell, keyed by the class object.

On top of these, :meth:`RowInterpreter.lookup` caches the whole raw tuple. A
combine miss calls :func:`~cbc_ranges.interpretation.assess`, the step
``interpret_count`` takes: there is one interpretation step, not a copy. Every
cache is a :class:`~cbc_ranges.ranges.BoundedCache`, emptied when it reaches its
bound, so memory stays flat on files of any length; cached entries are immutable
and stored only when complete, so an interpreter can be shared between threads.
Read more in ``docs/batch.md``.

>>> RESULT_COLUMNS[:3]
('wbc_value', 'wbc_flag', 'wbc_code')
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Hashable
from typing import NamedTuple

from cbc_ranges.analytes import ValueKind
from cbc_ranges.classify import CODES
from cbc_ranges.errors import CBCError
from cbc_ranges.interpretation import (
    Assessment,
    Prepared,
    assess,
    flag_and_leukopenia,
    implausible_warning,
    interpret_count,
    lab_range_warnings,
    prepare,
    read_value,
    straddle_warning,
    with_lab_range,
)
from cbc_ranges.models import Count, Flag
from cbc_ranges.models import format_number as _format
from cbc_ranges.ranges import BoundedCache, RangeTable, get_table

__all__ = [
    "CATEGORIES",
    "EMPTY_CELLS",
    "FLAG_INDEX",
    "RESULT_COLUMNS",
    "TEXT_COLUMNS",
    "Entry",
    "Outcome",
    "ParsedCell",
    "PersonClass",
    "RowInterpreter",
    "RowResult",
    "RowTexts",
    "format_number",
    "plain_cell",
]

#: the columns a checked row gets, in this order
RESULT_COLUMNS: tuple[str, ...] = (
    "wbc_value",
    "wbc_flag",
    "wbc_code",
    "wbc_leukopenia",
    "wbc_ref_low",
    "wbc_ref_high",
    "wbc_source",
    "wbc_severity",
    "wbc_grade",
    "wbc_ancestry",
    "wbc_warnings",
    "wbc_error",
)

#: the result cells of a row that was not checked (filtered out by ``--where``)
EMPTY_CELLS: tuple[str, ...] = ("",) * len(RESULT_COLUMNS)

#: where the flag sits in the result cells; an empty flag means the row could not be read
FLAG_INDEX = RESULT_COLUMNS.index("wbc_flag")

#: what a summary counts; an :data:`Entry` holds the index of its category
CATEGORIES: tuple[str, ...] = ("low", "normal", "high", "indeterminate", "error")
_CATEGORY: dict[str | None, int] = {flag: i for i, flag in enumerate(CATEGORIES)}
_CATEGORY[None] = _CATEGORY["error"]
_ERROR = _CATEGORY["error"]

# the error of a row whose value cell is empty
_NO_VALUE = "no WBC value in this row"
# a percentage is never compared with a count's range (cbc_ranges.panels turns it into a count)
_PERCENT = "a percentage needs the total white cell count to become a count; it was not flagged"

# how many distinct person classes to keep before starting afresh (free-text junk is bounded)
_CLASS_LIMIT = 4096


class RowResult(NamedTuple):
    """The typed result of one row; :meth:`cells` gives its CSV strings.

    ``value`` and the limits are in 10^9/L; ``comparator`` is set for a
    censored count such as ``<1.0``; ``error`` is set (and ``flag`` is None)
    when the row could not be read.
    """

    value: float | None = None
    comparator: str | None = None
    flag: Flag | None = None
    code: str | None = None
    leukopenia: bool | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    source: str | None = None
    severity: str | None = None
    grade: int | None = None
    ancestry: str | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None

    def cells(self, decimal_separator: str = ".") -> tuple[str, ...]:
        """The result as strings, one per name in :data:`RESULT_COLUMNS`.

        >>> RowResult(value=4.2, flag="normal", code="N", leukopenia=False).cells()[:4]
        ('4.2', 'normal', 'N', 'false')
        >>> RowResult(error="not a number: 'abc'").cells()[-1]
        "not a number: 'abc'"
        """
        value = ""
        if self.value is not None:
            value = (self.comparator or "") + format_number(self.value, decimal_separator)
        return (
            value,
            self.flag or "",
            self.code or "",
            "" if self.leukopenia is None else ("true" if self.leukopenia else "false"),
            "" if self.ref_low is None else format_number(self.ref_low, decimal_separator),
            "" if self.ref_high is None else format_number(self.ref_high, decimal_separator),
            self.source or "",
            self.severity or "",
            "" if self.grade is None else str(self.grade),
            self.ancestry or "",
            "; ".join(self.warnings),
            self.error or "",
        )

    def json_fields(self) -> dict[str, object]:
        """The result as JSON-ready values keyed by :data:`RESULT_COLUMNS`.

        Numbers stay numbers, a censored value stays text (``"<1"``) so the
        comparator is never lost, missing values are ``None``.

        >>> fields = RowResult(value=4.2, flag="normal", warnings=("no unit",)).json_fields()
        >>> fields["wbc_value"], fields["wbc_warnings"]
        (4.2, ['no unit'])
        """
        value: float | str | None = self.value
        if self.value is not None and self.comparator:
            value = self.comparator + format_number(self.value)
        return {
            "wbc_value": value,
            "wbc_flag": self.flag,
            "wbc_code": self.code,
            "wbc_leukopenia": self.leukopenia,
            "wbc_ref_low": self.ref_low,
            "wbc_ref_high": self.ref_high,
            "wbc_source": self.source,
            "wbc_severity": self.severity,
            "wbc_grade": self.grade,
            "wbc_ancestry": self.ancestry,
            "wbc_warnings": list(self.warnings),
            "wbc_error": self.error,
        }


class Entry(NamedTuple):
    """A finished row: its result cells, its category (see :data:`CATEGORIES`), its result."""

    cells: tuple[str, ...]
    category: int
    result: RowResult
    #: ``cells[1:]``, one shared tuple per outcome of a person class (a cheap cache key)
    tail: tuple[str, ...] = ()


class Outcome(NamedTuple):
    """What a person class makes of a count, without the count: the cheap half of an entry.

    ``tail`` is the result cells after ``wbc_value`` (one shared tuple per
    outcome), ``category`` the summary category, ``shape`` the result with
    ``value`` and ``comparator`` left empty (filled in by
    :meth:`RowInterpreter.combine`), or the whole result of an error row.
    """

    tail: tuple[str, ...]
    category: int
    shape: RowResult


def format_number(value: float, decimal_separator: str = ".") -> str:
    """A count or limit as a cell: at most 6 decimals, no float noise, no exponent.

    >>> format_number(4.300000000000001)
    '4.3'
    >>> format_number(12.0)
    '12'
    >>> format_number(4.25, ",")
    '4,25'
    """
    return _format(value, places=6, keep_one=False, decimal_separator=decimal_separator)


def plain_cell(value: object) -> str | int | float | None:
    """A cell from any source (CSV text, pandas, numpy, polars) as str, int, float or None.

    Missing markers (``None``, NaN, ``pd.NA``, ``NaT``) become None, numpy
    scalars become Python numbers, anything else its ``str()``.

    >>> plain_cell(float("nan")) is None
    True
    >>> plain_cell(True), plain_cell(4), plain_cell(" 4.2 ")
    ('True', 4, ' 4.2 ')
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    item = getattr(value, "item", None)
    if callable(item):  # a numpy scalar
        try:
            return plain_cell(item())
        except (TypeError, ValueError):
            pass
    try:
        missing = bool(value != value)
    except (TypeError, ValueError):  # pd.NA refuses to be a bool
        return None
    return None if missing else str(value)


def _blank(value: str | int | float | None) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _one_line(message: str) -> str:
    return " ".join(message.split())


class ParsedCell(dict["PersonClass", Entry]):
    """A (value, unit) cell pair read once: the count or the error, plus its finished entries.

    The dict part maps a :class:`PersonClass` to the :class:`Entry` of this
    count for that class (filled by :meth:`RowInterpreter.combine`).
    """

    __slots__ = ("count", "error", "value_text", "warnings")

    def __init__(self, count: Count | None, error: str | None, value_text: str) -> None:
        super().__init__()
        self.count = count
        self.error = error
        self.value_text = value_text
        self.warnings = tuple(_one_line(w) for w in count.warnings) if count else ()


class PersonClass:
    """What the output of a row can show of its person, shared by everyone it applies to.

    ``prepared`` is what :func:`~cbc_ranges.interpretation.prepare` decided for
    the first person seen in the class (``None`` with ``error`` set when the
    person's cells cannot be read). Compared and hashed by identity: one object
    per class.
    """

    __slots__ = (
        "ancestry",
        "edges",
        "error",
        "has_reference",
        "high",
        "low",
        "outcomes",
        "positions",
        "prepared",
        "source",
        "warnings",
    )

    def __init__(self, prepared: Prepared | None, error: str | None = None) -> None:
        self.prepared = prepared
        self.error = error
        reference = None if prepared is None else prepared.reference
        self.has_reference = reference is not None
        self.low = None if reference is None else reference.low
        self.high = None if reference is None else reference.high
        self.source = None if reference is None else reference.source.id
        self.ancestry = None if prepared is None else prepared.group
        self.warnings = () if prepared is None else tuple(_one_line(w) for w in prepared.warnings)
        # (flag, leukopenia, count warnings) -> what every such count gets
        self.outcomes = BoundedCache(_CLASS_LIMIT)
        self.edges = () if prepared is None else edges(prepared)
        # (position among the edges, count warnings) -> what every such exact count gets
        self.positions = BoundedCache(_CLASS_LIMIT)

    def position(self, value: float) -> int:
        """Where an exact count lies among :attr:`edges`: ``2 i`` below the ``i``-th edge
        (and above the one before), ``2 i + 1`` on it. Every exact count of one position
        compares alike with every limit of the class, so it gets the same outcome.

        >>> from cbc_ranges.interpretation import prepare
        >>> adult = PersonClass(prepare(get_table(), "wbc", "count", 40, "F", None))
        >>> [adult.position(v) == adult.position(4.4) for v in (4.3, 4.5, 11.0)]
        [True, False, False]
        """
        edges = self.edges
        at = bisect_left(edges, value)
        return 2 * at + (at < len(edges) and edges[at] == value)


def _quotes_value(flag: str, person: PersonClass) -> bool:
    """Whether the outcome of a value with this flag quotes the value (a warning of an
    implausible or straddling count): such an outcome is the value's own, never shared."""
    return flag == "indeterminate" and person.has_reference


def edges(prepared: Prepared) -> tuple[float, ...]:
    """Every number an exact count of a prepared person is compared with, sorted.

    :func:`~cbc_ranges.interpretation.assess` compares an exact count only with
    these (the reference interval, the analyte's plausible range, the decision
    limits, the grade bands and the context interval): two counts that lie
    between the same two edges, or on the same edge, get the same assessment.
    """
    numbers: list[float | None] = [*prepared.analyte.plausible]
    reference = prepared.reference
    if reference is not None:
        numbers += (reference.low, reference.high)
    for row in prepared.limits:
        numbers += (row.low, row.high)
    for band in prepared.grades:
        numbers += (band.low, band.high)
    if prepared.context is not None:
        numbers += (prepared.context.low, prepared.context.high)
    return tuple(sorted({float(n) for n in numbers if n is not None and math.isfinite(n)}))


class RowInterpreter:
    """Interpret raw lab cells into ``wbc_*`` result cells, caching per key.

    ``table`` is a :class:`~cbc_ranges.ranges.RangeTable`, the name of one, or
    None for the default table; ``analyte`` the analyte the value cells hold.
    ``default_unit`` is used when the unit cell is empty and the value cell holds
    no unit. ``decimal_comma`` is passed to :func:`~cbc_ranges.count.parse_count`
    (True for ``;`` files). ``decimal_separator`` is the one written in the output
    number cells. A bad ``default_unit`` or table raises here, not on every row.

    >>> rows = RowInterpreter()
    >>> rows.lookup("4.2", "K/uL", "40", "female").cells[:3]
    ('4.2', 'low', 'L')
    >>> rows.lookup("abc", "K/uL").cells[1], rows.lookup("abc", "K/uL").cells[-1] != ""
    ('', True)
    """

    def __init__(
        self,
        table: RangeTable | str | None = None,
        *,
        default_unit: str | None = None,
        decimal_comma: bool | None = None,
        decimal_separator: str = ".",
        cache_size: int = 1 << 15,
        analyte: str = "wbc",
    ) -> None:
        from cbc_ranges.analytes import get_analyte

        self.table = get_table(table)
        self.analyte = get_analyte(analyte)
        self.default_unit = default_unit or None
        self.decimal_comma = decimal_comma
        self.decimal_separator = decimal_separator
        if self.default_unit is not None:
            read_value("1", self.default_unit, analyte=self.analyte)  # fails here, not per row
        self._rows = BoundedCache(cache_size)
        self._parses = BoundedCache(cache_size)
        self._persons = BoundedCache(cache_size)
        self._classes = BoundedCache(_CLASS_LIMIT)
        self._outcomes = BoundedCache(cache_size)

    # -- the whole row -------------------------------------------------------------------

    def lookup(
        self,
        value: str | int | float | None,
        unit: str | None = None,
        age: str | int | float | None = None,
        sex: str | None = None,
        ethnicity: str | None = None,
        lab_range: str | None = None,
    ) -> Entry:
        """The :class:`Entry` for raw text cells, cached on the whole tuple.

        ``lab_range`` is the row's own reference range as text in the value's unit
        (``"3.5-10.5"``, ``"<10.5"``); with it, the row is flagged against it as
        ``interpret(..., lab_range=)`` does. A range that cannot be read leaves the
        table's range in use, with a warning.

        >>> entry = RowInterpreter().lookup("12.5", "K/uL", "50", "M")
        >>> entry.cells[:3], CATEGORIES[entry.category]
        (('12.5', 'high', 'H'), 'high')
        >>> RowInterpreter().lookup("4.2", "K/uL", "40", "M", None, "3.5-10.5").cells[:3]
        ('4.2', 'normal', 'N')
        """
        key = (value, unit, age, sex, ethnicity, lab_range)
        found = self._rows.get(key)
        if found is None:
            parsed, person = self.parse(value, unit), self.person(age, sex, ethnicity)
            if lab_range is not None and lab_range.strip():
                made = self._lab_entry(parsed, person, lab_range.strip())
            else:
                made = self.combine(parsed, person)
            found = self._rows.put(key, made)
        return found  # type: ignore[no-any-return]

    def _lab_entry(self, parsed: ParsedCell, person: PersonClass, lab_range: str) -> Entry:
        """A row with its own reference range: flagged against it, the table's reading told."""
        count = parsed.count
        if parsed.error is not None or person.error is not None or count is None:
            return self.combine(parsed, person)
        if count.unit == "%":  # outcome() refuses it: a percentage is no count
            return self.combine(parsed, person)
        prepared = person.prepared
        assert prepared is not None
        try:
            lab, notes = with_lab_range(self.table, prepared, lab_range, count)
        except CBCError as error:
            entry = self.combine(parsed, person)
            note = _one_line(f"the row's reference range was not read ({error}); "
                             "the table's range was used")  # fmt: skip
            result = entry.result._replace(warnings=(*entry.result.warnings, note))
            return self._entry_of(parsed, result)
        assessment = assess(count.value, count.comparator, lab)
        reference = lab.reference
        assert reference is not None
        table_flag, _ = flag_and_leukopenia(count.value, count.comparator, prepared)
        extra = lab_range_warnings(assessment.flag, table_flag, prepared)
        warnings = tuple(
            dict.fromkeys(
                (*parsed.warnings, *person.warnings, *map(_one_line, notes), *map(_one_line, extra))
            )
        )
        result = RowResult(
            value=count.value,
            comparator=count.comparator,
            flag=assessment.flag,
            code=CODES[assessment.flag],
            leukopenia=assessment.leukopenia,
            ref_low=reference.low,
            ref_high=reference.high,
            source=reference.source.id,
            severity=assessment.severity,
            grade=None if assessment.grade is None else assessment.grade.grade,
            ancestry=person.ancestry,
            warnings=warnings,
        )
        return self._entry_of(parsed, result)

    def _entry_of(self, parsed: ParsedCell, result: RowResult) -> Entry:
        cells = result.cells(self.decimal_separator)
        category = _CATEGORY[result.flag]
        return Entry(cells, category, result, cells[1:])

    def clear(self) -> None:
        """Forget every cached result (a table edited in place, a test).

        >>> rows = RowInterpreter()
        >>> rows.lookup("4.2", "K/uL").cells[1]
        'low'
        >>> rows.clear()
        """
        for cache in (self._rows, self._parses, self._persons, self._classes, self._outcomes):
            cache.clear()

    # -- the three steps -----------------------------------------------------------------

    def parse(self, value: str | int | float | None, unit: str | None = None) -> ParsedCell:
        """The value and unit cells read once (cached on the pair).

        >>> rows = RowInterpreter()
        >>> rows.parse("4,500", "cells/uL").value_text, rows.parse("abc").error is not None
        ('4.5', True)
        >>> rows.parse("4.2", "K/uL") is rows.parse("4.2", "K/uL")
        True
        """
        key = (value, unit)
        found = self._parses.get(key)
        if found is None:
            found = self._parses.put(key, self._parse(value, unit))
        return found  # type: ignore[no-any-return]

    def person(
        self,
        age: str | int | float | None = None,
        sex: str | None = None,
        ethnicity: str | None = None,
    ) -> PersonClass:
        """The class of a person's cells (cached on the triple).

        People the output cannot tell apart share one class object:

        >>> rows = RowInterpreter()
        >>> rows.person("30", "F") is rows.person("31", "female")
        True
        >>> rows.person("30", "F") is rows.person("30", "M"), rows.person("-3").error is not None
        (False, True)
        """
        key = (age, sex, ethnicity)
        found = self._persons.get(key)
        if found is None:
            found = self._persons.put(key, self._person(age, sex, ethnicity))
        return found  # type: ignore[no-any-return]

    def outcome(self, parsed: ParsedCell, person: PersonClass) -> Outcome:
        """The :class:`Outcome` of a parsed cell for a person class: flags, no result model.

        One :func:`~cbc_ranges.interpretation.assess` (flag, leukopenia, severity,
        grade) and a dict look-up on the class; what the CSV batch calls once per
        distinct (cell, class) pair.

        >>> rows = RowInterpreter()
        >>> outcome = rows.outcome(rows.parse("3.2", "K/uL"), rows.person("40", "F"))
        >>> outcome.tail[:3], CATEGORIES[outcome.category]
        (('low', 'L', 'true'), 'low')
        """
        if parsed.error is not None:
            return self._failed(parsed.error)
        if person.error is not None:
            return self._failed(person.error)
        count = parsed.count
        prepared = person.prepared
        assert count is not None and prepared is not None
        if count.unit == "%":
            return self._failed(_PERCENT)
        if count.comparator is None:  # an exact count: what its position between edges gets
            place = (person.position(count.value), parsed.warnings)
            known: Outcome | None = person.positions.get(place)
            if known is not None:
                return known
            made = self._assessed(count, parsed, person, prepared)
            if not _quotes_value(CATEGORIES[made.category], person):
                person.positions.put(place, made)
            return made
        # a censored value a class has met before (another person of the class, a spelling)
        seen_key = (person, count.value, count.comparator, parsed.warnings)
        seen: Outcome | None = self._outcomes.get(seen_key)
        if seen is not None:
            return seen
        return self._outcomes.put(seen_key, self._assessed(count, parsed, person, prepared))  # type: ignore[no-any-return]

    def _assessed(
        self, count: Count, parsed: ParsedCell, person: PersonClass, prepared: Prepared
    ) -> Outcome:
        assessment = assess(count.value, count.comparator, prepared)
        flag, leukopenia = assessment.flag, assessment.leukopenia
        severity = assessment.severity
        grade = None if assessment.grade is None else assessment.grade.grade
        warnings = parsed.warnings
        if _quotes_value(flag, person):
            # the warning quotes the value as interpret() writes it: this outcome is its own
            value_text = (count.comparator or "") + _format(count.value)
            own = (
                implausible_warning(value_text, prepared)
                if assessment.implausible
                else straddle_warning(value_text)
            )
            return self._outcome(person, assessment, warnings, (own,))
        key = (flag, leukopenia, severity, grade, warnings)
        found = person.outcomes.get(key)
        if found is None:
            found = person.outcomes.put(key, self._outcome(person, assessment, warnings))
        return found  # type: ignore[no-any-return]

    def combine(self, parsed: ParsedCell, person: PersonClass) -> Entry:
        """The finished entry of a parsed cell for a person class (cached on the cell).

        >>> rows = RowInterpreter()
        >>> rows.combine(rows.parse("3.2", "K/uL"), rows.person("40", "F")).result.value
        3.2
        """
        found = parsed.get(person)
        if found is None:
            found = self._combine(parsed, person)
            if len(parsed) >= _CLASS_LIMIT:
                parsed.clear()
            parsed[person] = found
        return found

    # -- what a miss costs ---------------------------------------------------------------

    def _parse(self, value: str | int | float | None, unit: str | None) -> ParsedCell:
        if _blank(value):
            return ParsedCell(None, _NO_VALUE, "")
        assert value is not None
        unit = unit.strip() if unit else ""
        try:
            count = read_value(
                value,
                unit or self.default_unit,
                analyte=self.analyte,
                decimal_comma=self.decimal_comma,
            )
        except CBCError as error:
            return ParsedCell(None, _one_line(str(error)), "")
        except Exception as error:  # a parser bug must not stop a million-row file
            message = f"could not read this value ({type(error).__name__}: {error})"
            return ParsedCell(None, _one_line(message)[:200], "")
        text = (count.comparator or "") + format_number(count.value, self.decimal_separator)
        return ParsedCell(count, None, text)

    def _person(
        self, age: str | int | float | None, sex: str | None, ethnicity: str | None
    ) -> PersonClass:
        """The class of a person: what prepare() decides, shared by identical outcomes."""
        age = None if _blank(age) else age
        sex = None if _blank(sex) else sex
        ethnicity = None if _blank(ethnicity) else ethnicity
        value_kind: ValueKind = "count"
        prepared: Prepared | None = None
        error_text: str | None = None
        signature: Hashable
        try:
            prepared = prepare(self.table, self.analyte, value_kind, age, sex, ethnicity)
        except Exception as error:
            message = (
                str(error) if isinstance(error, CBCError) else f"{type(error).__name__}: {error}"
            )
            error_text = _one_line(message)
            signature = ("error", error_text)
        else:
            # everything of the person that the output or a later warning can depend on
            selection = prepared.selection
            signature = (
                id(selection.reference),
                tuple(map(id, selection.limits)),
                tuple(map(id, selection.grades)),
                prepared.warnings,
                prepared.group,
            )
        found = self._classes.get(signature)
        if found is None:  # built only when new (its edges are worked out once)
            found = self._classes.put(signature, PersonClass(prepared, error=error_text))
        return found  # type: ignore[no-any-return]

    def _combine(self, parsed: ParsedCell, person: PersonClass) -> Entry:
        tail, category, shape = self.outcome(parsed, person)
        count = parsed.count
        if category == _ERROR:
            return Entry(("", *tail), category, shape, tail)
        assert count is not None
        if shape.value is None:
            shape = RowResult(count.value, count.comparator, *shape[2:])
        return Entry((parsed.value_text, *tail), category, shape, tail)

    def _failed(self, error: str) -> Outcome:
        result = RowResult(error=error)
        return Outcome(result.cells(self.decimal_separator)[1:], _ERROR, result)

    def _outcome(
        self,
        person: PersonClass,
        assessment: Assessment,
        count_warnings: tuple[str, ...],
        value_warnings: tuple[str, ...] = (),
    ) -> Outcome:
        """What every count with this assessment and these warnings gets for a person class."""
        # no repeats; in the order interpret() gives them
        warnings = tuple(dict.fromkeys((*count_warnings, *person.warnings, *value_warnings)))
        flag = assessment.flag
        shape = RowResult(
            value=None,
            flag=flag,
            code=CODES[flag],
            leukopenia=assessment.leukopenia,
            ref_low=person.low,
            ref_high=person.high,
            source=person.source,
            severity=assessment.severity,
            grade=None if assessment.grade is None else assessment.grade.grade,
            ancestry=person.ancestry,
            warnings=warnings,
        )
        return Outcome(shape.cells(self.decimal_separator)[1:], _CATEGORY[flag], shape)


#: the columns ``--text`` adds (batch) and ``text=True`` (frames): the summary and the explanation
TEXT_COLUMNS: tuple[str, ...] = ("wbc_summary", "wbc_text")
_NO_TEXT = ("", "")
# how many distinct (value, unit, age, sex, ethnicity) texts a run keeps (each a few hundred bytes)
_TEXT_CACHE_SIZE = 1 << 12


class RowTexts:
    """``wbc_summary`` and ``wbc_text`` of a row, from :func:`.interpretation.interpret_count`.

    The text can name the exact age, so it is composed once per distinct
    (value, unit, age, sex, ethnicity) cells, in a bounded cache; the count is
    the one the row engine parsed (same table, same analyte), so the text and
    the row's flag come from the same step. A row with no count, or whose
    person cannot be read, gets empty text cells (its ``wbc_error`` says why).

    >>> texts = RowTexts(RowInterpreter())
    >>> summary, text = texts.cells(("3.2", "K/uL", "40", "F", ""))
    >>> bool(summary) and bool(text), texts.cells(("abc", None, "", "", ""))
    (True, ('', ''))
    """

    def __init__(self, interpreter: RowInterpreter, size: int = _TEXT_CACHE_SIZE) -> None:
        self.interpreter = interpreter
        self.cache = BoundedCache(size)

    def cells(
        self, texts: tuple[str, str | None, str, str, str], lab_range: str | None = None
    ) -> tuple[str, str]:
        """The two text cells of a row's value, unit, age, sex and ethnicity cells
        (and its own reference range, when the file has one)."""
        key = (*texts, lab_range)
        found = self.cache.get(key)
        if found is None:
            found = self.cache.put(key, self._compose(*texts, lab_range=lab_range))
        return found  # type: ignore[no-any-return]

    def _compose(
        self,
        value: str,
        unit: str | None,
        age: str,
        sex: str,
        ethnicity: str,
        lab_range: str | None = None,
    ) -> tuple[str, str]:
        count = self.interpreter.parse(value, unit).count
        if count is None:
            return _NO_TEXT
        person = {
            "age": age.strip() or None if isinstance(age, str) else age,  # an exact Age too
            "sex": sex.strip() or None,
            "ethnicity": ethnicity.strip() or None,
        }
        interpreter = self.interpreter
        for lab in dict.fromkeys((lab_range, None)):  # a range that cannot be read: the table's
            try:
                result = interpret_count(
                    count, analyte=interpreter.analyte, table=interpreter.table,
                    lab_range=lab, **person,
                )  # fmt: skip
            except Exception:  # the row's wbc_error says why; a text bug must not stop the file
                continue
            return result.summary, result.text
        return _NO_TEXT
