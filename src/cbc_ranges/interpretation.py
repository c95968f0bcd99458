"""Interpretation: a white cell count compared with the ranges that apply to a person, explained.

This is the mission of the library in one call. :func:`interpret` reads the
value (as :func:`~cbc_ranges.count.parse_count` does), reads the person
(:mod:`cbc_ranges.people`), picks the rows of the range table that apply to the
analyte and the person (:mod:`cbc_ranges.ranges`), flags the count and checks it
against the decision limits and grades (:mod:`cbc_ranges.classify`), and adds
educational text with its sources (:mod:`cbc_ranges.explain`). The result is an
:class:`~cbc_ranges.models.Interpretation`, JSON-ready. It describes how one number
compares with published ranges; it is not a diagnosis.

The work is in two steps that every face shares: :func:`prepare` does what
depends only on the table, the analyte and the person (cached per table), and
:func:`assess` what depends on the value. :func:`interpret_count` joins them with
the text; the row engine of the batch and DataFrame faces (:mod:`cbc_ranges.rows`)
calls the same two steps.

>>> result = interpret("3.2 x10^9/L", age=45, sex="F")
>>> result.flag, result.code, result.leukopenia
('low', 'L', True)
>>> (result.reference.low, result.reference.high, result.reference.source.id)
(4.5, 11.0, 'cleveland-2022')
>>> "not a diagnosis" in result.text
True

The rules and their limits are in ``docs/interpretation.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, NamedTuple

from cbc_ranges import __version__
from cbc_ranges.analytes import Analyte, ValueKind, get_analyte
from cbc_ranges.classify import CODES, flag_for, in_region
from cbc_ranges.count import parse_count, parse_percentage
from cbc_ranges.errors import CBCError, ParseError, UnitError, suggest
from cbc_ranges.explain import LAB_SOURCE_ID, Explanation, explain
from cbc_ranges.models import (
    Comparator,
    ContextRange,
    Count,
    Flag,
    Grade,
    Interpretation,
    InterpretationCode,
    LimitResult,
    Person,
    Population,
    ReferenceRange,
    Sex,
    Source,
    TableInfo,
    construct_checked,
    format_number,
)
from cbc_ranges.people import (
    ADULT_AGE,
    Age,
    match_ethnicity,
    parse_duffy,
    parse_sex,
    read_age,
    sex_is_known_code,
)
from cbc_ranges.ranges import (
    BoundedCache,
    RangeRow,
    RangeTable,
    Selection,
    ancestry_groups,
    get_table,
    grading_systems,
    split_grade_name,
)

__all__ = [
    "Assessment",
    "Prepared",
    "assess",
    "flag_and_leukopenia",
    "implausible_warning",
    "interpret",
    "interpret_count",
    "lab_range_warnings",
    "prepare",
    "read_value",
    "straddle_warning",
    "with_lab_range",
]

# how many distinct people (age, sex, ethnicity inputs) a table remembers per analyte
_PEOPLE_CACHE_SIZE = 1 << 14
# how many (person, value) outcomes a table remembers
_OUTCOMES_SIZE = 1 << 15
_CACHES = "cbc_ranges.interpretation"


class _Caches:
    """A table's two bounded caches (people -> Prepared, (Prepared, value) -> outcome) and
    the table's provenance for results."""

    __slots__ = ("ethnicities", "outcomes", "people", "table_info")

    def __init__(self, table: RangeTable) -> None:
        self.people = BoundedCache(_PEOPLE_CACHE_SIZE)
        # an ethnicity text -> (its group in the table, the group it is recognised as)
        self.ethnicities = BoundedCache(_PEOPLE_CACHE_SIZE)
        self.outcomes = BoundedCache(_OUTCOMES_SIZE)
        self.table_info = TableInfo(name=table.name, sha256=table.sha256)


def _caches(table: RangeTable) -> _Caches:
    derived = table.derived_cache()
    found: _Caches | None = derived.get(_CACHES)
    if found is None:
        found = derived.setdefault(_CACHES, _Caches(table))
    return found


#: what an age may be given as
AgeInput = Age | float | int | str | None

#: the grading system a result is graded in unless another (or None) is asked for
DEFAULT_GRADING = "ctcae-v5"
# the grading systems known even before grading.toml lists them
_BUILT_IN_GRADING = ("ctcae-v5", "ctcae-v6")
#: the population of the Duffy-null ranges
DUFFY_NULL = "duffy_null"
# ancestry groups in which Duffy-null is common (references README, section 5: 80-100 % in
# sub-Saharan Africa, about two thirds of Black Americans, 50-70 % on the Arabian peninsula)
_DUFFY_NULL_COMMON = frozenset({"african", "middle_eastern"})
# the warning of a percentage compared without the total count
_PERCENT_ONLY = (
    "a percentage was compared with the percentage range: give the total white cell count "
    "(wbc=) to compare the absolute count, which says more"
)


@dataclass(frozen=True)
class _GradeBand:
    """A grade row with its limits resolved against the person's reference interval."""

    low: float | None
    high: float | None
    result: Grade


@dataclass(eq=False)  # compared and hashed by identity: a key of the outcome cache
class Prepared:
    """What depends only on the table, the analyte, the kind of value and the person.

    ``person`` (the result model) is built on first use: the row engine never needs it.
    """

    analyte: Analyte
    value_kind: ValueKind
    age: Age | None
    sex: Sex
    group: str | None
    recognised_group: str | None
    ethnicity_text: str | None
    duffy: Literal["null", "positive"] | None
    grading: str | None
    selection: Selection
    warnings: tuple[str, ...]
    # the models the result points to, built once
    reference: ReferenceRange | None
    threshold: ReferenceRange | None
    limits: tuple[RangeRow, ...]
    grades: tuple[_GradeBand, ...]
    # where the leukopenia limit is among ``limits`` (its side is ``leukopenia``)
    threshold_index: int | None
    # the Duffy-null reference interval that puts the value in context, if any
    context: RangeRow | None
    # whether a decision limit has severity levels (only then is a severity looked for)
    has_levels: bool = False
    # (flag, leukopenia, comparator, severity, grade, context flags, implausible) -> text
    explanations: dict[tuple[Any, ...], Explanation] = field(default_factory=dict)
    # the context range's flag -> its model
    context_results: dict[Flag, ContextRange] = field(default_factory=dict)
    # the limits' sides -> their result models, built once
    limit_results: dict[tuple[bool | None, ...], list[LimitResult]] = field(default_factory=dict)

    @cached_property
    def person(self) -> Person:
        """The person as the result reports it."""
        age = self.age
        fields: dict[str, Any] = {
            "age_years": None if age is None else age.years,
            "age_days": None if age is None else age.days,
            "age": None if age is None else str(age),
            "sex": self.sex,
            "ethnicity": self.group,
            "ethnicity_text": self.ethnicity_text,
            "ethnicity_group": self.recognised_group,
            "duffy": self.duffy,
        }
        # every field is read and checked already: no second validation
        return construct_checked(Person, fields) if _CONSTRUCT_IS_FAITHFUL else Person(**fields)


class Assessment(NamedTuple):
    """How one value compares with what :func:`prepare` selected for a person."""

    flag: Flag
    code: InterpretationCode | None
    leukopenia: bool | None
    limits: list[LimitResult]
    grade: Grade | None
    severity: str | None
    context_ranges: list[ContextRange]
    implausible: bool


def interpret(
    value: str | int | float,
    unit: str | None = None,
    *,
    analyte: str = "wbc",
    age: AgeInput = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    duffy: str | None = None,
    wbc: str | float | Count | None = None,
    table: RangeTable | str | None = None,
    grading: str | None = DEFAULT_GRADING,
    duffy_cohort: str | None = None,
    lab_range: LabRange | None = None,
) -> Interpretation:
    """Compare a white cell count with the reference range for a person and explain it.

    ``value`` and ``unit`` are read as by :func:`~cbc_ranges.count.parse_count`; a
    unit of ``%`` reads a percentage of white cells (for the differential).
    ``analyte`` is an id of ``analytes.toml`` (``wbc``, ``neutrophils``, ...), a
    header spelling (``ANC``) or a LOINC code. ``age`` is an
    :class:`~cbc_ranges.people.Age`, years, or a text such as ``"6 months"``;
    ``sex`` is female/male/F/M in any case (anything else is unknown, never male);
    ``ethnicity`` is free text matched to the table's groups and otherwise ignored.
    ``lab_range`` is the reporting laboratory's own range, in the value's unit: a
    ``(low, high)`` pair (either may be None) or text such as ``"4.0-11.0"``,
    ``"4.0 - 11.0 K/uL"``, ``"<11.0"`` or ``">4.0"``. When given, the flag, code,
    decision limits and grades (LLN) use it, and a warning says when the table's
    range would flag the value otherwise.
    ``duffy`` is the Duffy blood group status (``"null"``, ``"Fy(a-b-)"``,
    ``"negative"``, ``"positive"`` or None): ``"null"`` selects the Duffy-null ranges
    where the table has them (the cohort of ``duffy_cohort``, ``"usa"`` by default,
    ``"uk"``, ``"saudi"`` or ``"namibia"``, where the table has it); with None and an
    ancestry group where Duffy-null is common, the result also carries the Duffy-null
    range in ``context_ranges``.
    ``wbc`` is the total white cell count (a value with its unit, or a ``Count``): with
    it, a percentage is turned into an absolute count and compared with the absolute
    range. ``table`` is a loaded :class:`~cbc_ranges.ranges.RangeTable`, a shipped
    table's name or a path; by default the ``standard`` table. ``grading`` is the
    grading system whose grade the result carries (``"ctcae-v5"``, ``"ctcae-v6"``) or
    None.

    Raises :class:`~cbc_ranges.errors.ParseError` / :class:`~cbc_ranges.errors.UnitError`
    for a value that cannot be read, :class:`~cbc_ranges.errors.PersonError` for
    an unreadable age and :class:`~cbc_ranges.errors.RangeTableError` for a table
    that does not load; :class:`TypeError`, naming the parameter, for an argument
    of the wrong type.

    >>> interpret(4.5, age=30, sex="female").flag
    'normal'
    >>> interpret("4,000 cells/µL", age="8 years").leukopenia is None  # children: no threshold
    True
    >>> interpret("<1.0", age=30, sex="m").flag
    'low'
    >>> interpret(2.1, analyte="neutrophils", age=30).flag  # Henry's adult range, 1.8-7.8
    'normal'
    >>> interpret(2.1, analyte="neutrophils", age=30, table="documents").flag  # none there
    'indeterminate'
    """
    found = get_analyte(analyte)
    count = read_value(value, unit, analyte=found)
    return interpret_count(
        count,
        analyte=found,
        age=age,
        sex=sex,
        ethnicity=ethnicity,
        duffy=duffy,
        wbc=wbc,
        table=table,
        grading=grading,
        duffy_cohort=duffy_cohort,
        lab_range=lab_range,
    )


def read_value(
    value: str | int | float,
    unit: str | None = None,
    *,
    analyte: str | Analyte = "wbc",
    decimal_comma: bool | None = None,
) -> Count:
    """A value of an analyte read: a percentage when the unit is ``%``, else a count.

    >>> read_value("58 %", analyte="neutrophils").unit
    '%'
    >>> read_value("2.4", "K/uL", analyte="ANC").value
    2.4
    """
    analyte = get_analyte(analyte)
    if (unit.__class__ is str and "%" in unit and unit.strip() == "%") or (
        unit is None and value.__class__ is str and value.rstrip().endswith("%")
    ):
        if "percent" not in analyte.kinds:
            raise UnitError(
                f"{analyte.label} is not given as a percentage of white cells here; "
                "give a count per volume such as 10^9/L",
                raw=value,
                unit="%",
            )
        return parse_percentage(value, unit, decimal_comma=decimal_comma)
    return parse_count(value, unit, decimal_comma=decimal_comma, plausible_range=analyte.plausible)


def straddle_warning(value_text: str) -> str:
    """The warning of a censored value that lies on both sides of a limit of its range."""
    return (
        f"the reported bound {value_text} lies on both sides of a limit of the reference "
        "range, so it was not flagged"
    )


def interpret_count(
    count: Count,
    *,
    analyte: str | Analyte = "wbc",
    age: AgeInput = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    duffy: str | None = None,
    wbc: str | float | Count | None = None,
    table: RangeTable | str | None = None,
    grading: str | None = DEFAULT_GRADING,
    duffy_cohort: str | None = None,
    lab_range: LabRange | None = None,
) -> Interpretation:
    """Like :func:`interpret`, for a count that is already parsed.

    >>> from cbc_ranges.models import Count
    >>> interpret_count(Count(value=12.5), age=50, sex="M").code
    'H'
    """
    if count.__class__ is not Count and not isinstance(count, Count):
        raise TypeError(f"count must be a Count, not {type(count).__name__}")
    found_table = get_table(table)
    percentage = None
    extra: tuple[str, ...] = ()
    if count.unit == "%":
        if wbc is not None:
            percentage = count.value
            count = _absolute(count, wbc)
        else:
            extra = (_PERCENT_ONLY,)
    value_kind: ValueKind = "percent" if count.unit == "%" else "count"
    caches = _caches(found_table)
    prepared = _prepared(
        caches,
        found_table,
        analyte,
        value_kind,
        age,
        sex,
        ethnicity,
        duffy,
        grading,
        duffy_cohort,
    )
    value, comparator = count.value, count.comparator
    table_prepared = None
    if lab_range is not None:
        table_prepared = prepared
        prepared = _with_lab_range(caches, prepared, _read_lab_range(lab_range, count))
    # lab values repeat: what a value gives a person is kept, in one bounded cache per table
    outcomes = caches.outcomes
    key = (prepared, value, comparator)
    outcome: _Outcome | None = outcomes.get(key)
    if outcome is None:
        outcome = outcomes.put(
            key, _outcome(value, comparator, prepared, found_table, table_prepared)
        )
    assessment = outcome.assessment
    warnings = [*count.warnings, *extra, *prepared.warnings, *outcome.warnings]
    table_flag: Flag | None = None
    if table_prepared is not None:
        table_flag = flag_and_leukopenia(value, comparator, table_prepared)[0]
        warnings += lab_range_warnings(assessment.flag, table_flag, table_prepared)
    fields: dict[str, Any] = {
        "analyte": prepared.analyte.id,
        "count": count,
        "person": prepared.person,
        "flag": assessment.flag,
        "code": assessment.code,
        "table_flag": table_flag,
        "leukopenia": assessment.leukopenia,
        "reference": prepared.reference,
        "leukopenia_threshold": prepared.threshold,
        "limits": list(assessment.limits),  # the result's own lists: cached ones stay as they are
        "grade": assessment.grade,
        "severity": assessment.severity,
        "context_ranges": list(assessment.context_ranges),
        "percentage": percentage,
        "library_version": __version__,
        "table": caches.table_info,
        "sources": list(outcome.sources),
        "warnings": warnings,
        "summary": outcome.summary,
        "text": outcome.text,
    }
    if _CONSTRUCT_IS_FAITHFUL:
        return construct_checked(Interpretation, fields)
    return Interpretation(**fields)


class _Outcome(NamedTuple):
    """What one value gives one prepared person: the assessment, the text, its warnings."""

    assessment: Assessment
    text: str
    summary: str
    sources: tuple[Source, ...]
    warnings: tuple[str, ...]


def _outcome(
    value: float,
    comparator: Comparator | None,
    prepared: Prepared,
    table: RangeTable,
    table_prepared: Prepared | None = None,
) -> _Outcome:
    assessment = assess(value, comparator, prepared)
    flag, leukopenia = assessment.flag, assessment.leukopenia
    grade = assessment.grade
    table_range = None
    if table_prepared is not None and table_prepared.selection.reference is not None:
        table_flag, _ = flag_and_leukopenia(value, comparator, table_prepared)
        table_range = _context_range(table_prepared.selection.reference, table_flag)
    key = (
        flag,
        leukopenia,
        comparator,
        assessment.severity,
        None if grade is None else (grade.system, grade.grade),
        tuple(context.flag for context in assessment.context_ranges),
        assessment.implausible,
        None if table_range is None else table_range.flag,
    )
    explanation = prepared.explanations.get(key)
    if explanation is None:
        explanation = prepared.explanations.setdefault(
            key, _explain(assessment, comparator, prepared, table, table_range)
        )
    value_text = format_number(value)
    if comparator is not None:
        value_text = comparator + value_text
    warnings: tuple[str, ...] = ()
    if assessment.implausible:
        warnings = (implausible_warning(value_text, prepared),)
    elif flag == "indeterminate" and prepared.reference is not None:
        warnings = (straddle_warning(value_text),)
    return _Outcome(
        assessment,
        explanation.render(value_text),
        explanation.render_summary(value_text),
        explanation.sources,
        warnings,
    )


def _explain(
    assessment: Assessment,
    comparator: Comparator | None,
    prepared: Prepared,
    table: RangeTable,
    table_range: ContextRange | None = None,
) -> Explanation:
    return explain(
        flag=assessment.flag,
        leukopenia=assessment.leukopenia,
        comparator=comparator,
        selection=prepared.selection,
        person=prepared.person,
        table=table,
        analyte=prepared.analyte,
        value_kind=prepared.value_kind,
        severity=assessment.severity,
        grade=assessment.grade,
        context_ranges=tuple(assessment.context_ranges),
        implausible=assessment.implausible,
        table_range=table_range,
    )


def implausible_warning(value_text: str, prepared: Prepared) -> str:
    """The warning of an exact count outside the analyte's plausible range."""
    low, high = prepared.analyte.plausible
    unit = "%" if prepared.value_kind == "percent" else "× 10⁹/L"
    likely = (
        "a count in cells/µL entered as 10⁹/L"
        if float(value_text.lstrip("<>=")) > high
        else "a count in 10⁹/L entered as cells/µL"
    )
    return (
        f"{value_text} {unit} is outside what a {prepared.analyte.noun_for(prepared.value_kind)} "
        f"can plausibly be ({format_number(low)}–{format_number(high)} {unit}): perhaps "
        f"{likely}; not flagged"
    )


def assess(value: float, comparator: Comparator | None, prepared: Prepared) -> Assessment:
    """The flag, code, leukopenia, decision limits and grade of one value for a person.

    The one place a value meets its limits: :func:`interpret_count` and the row
    engine both call it.

    >>> prepared = prepare(get_table(), "wbc", "count", 40, "female", None)
    >>> found = assess(3.2, None, prepared)
    >>> found.flag, found.leukopenia, [(limit.name, limit.beyond) for limit in found.limits]
    ('low', True, [('leukopenia', True), ('leukocytosis', False)])
    """
    flag, leukopenia = flag_and_leukopenia(value, comparator, prepared)
    implausible = flag == "indeterminate" and _implausible(value, comparator, prepared)
    rows = prepared.limits
    limits: list[LimitResult] = _NO_LIMITS
    severity: str | None = None
    if rows and not implausible:
        sides = tuple([in_region(value, comparator, row.low, row.high) for row in rows])
        found = prepared.limit_results.get(sides)
        limits = (
            found
            if found is not None
            else prepared.limit_results.setdefault(sides, _limit_results(rows, sides))
        )
        # the severity: the level of the first limit with levels that the value is beyond
        if prepared.has_levels:
            for limit_row, side in zip(rows, sides, strict=True):
                if side and limit_row.level:
                    severity = limit_row.level
                    break
    grade = None
    for band in () if implausible else prepared.grades:
        if in_region(value, comparator, band.low, band.high):
            grade = band.result
            break
    context: list[ContextRange] = _NO_CONTEXT
    row = prepared.context
    if row is not None and not implausible:
        context_flag = flag_for(value, comparator, row.low, row.high)
        found_context = prepared.context_results.get(context_flag)
        if found_context is None:
            found_context = prepared.context_results.setdefault(
                context_flag, _context_range(row, context_flag)
            )
        context = [found_context]
    return tuple.__new__(
        Assessment,
        (flag, CODES[flag], leukopenia, limits, grade, severity, context, implausible),
    )


def flag_and_leukopenia(
    value: float, comparator: Comparator | None, prepared: Prepared
) -> tuple[Flag, bool | None]:
    """The flag against the reference interval, and the side of the leukopenia limit.

    The part of :func:`assess` that the batch columns show: the row engine calls it
    alone, on every new (value, person) pair.

    >>> flag_and_leukopenia(4.2, None, prepare(get_table(), "wbc", "count", 40, "F", None))
    ('low', False)
    """
    reference = prepared.reference
    flag: Flag
    if reference is None or _implausible(value, comparator, prepared):
        return "indeterminate", None  # never low or high on a number that cannot be right
    low, high = reference.low, reference.high
    if low is not None and high is not None and comparator is None:  # the common case
        flag = "low" if value < low else "high" if value > high else "normal"
    else:  # a censored value, or a lab's one-sided range ("<11.0")
        flag = flag_for(
            value,
            comparator,
            -math.inf if low is None else low,
            math.inf if high is None else high,
        )
        if flag == "normal" and (low is None or high is None):
            # a one-sided range says nothing of its open side: never a guessed normal
            flag = "indeterminate"
    at = prepared.threshold_index  # leukopenia is the side of its decision limit
    if at is None:
        return flag, None
    row = prepared.limits[at]
    return flag, in_region(value, comparator, row.low, row.high)


# the limits of a person no decision limit applies to (never handed out: results copy it)
_NO_LIMITS: list[LimitResult] = []
_NO_CONTEXT: list[ContextRange] = []


def _implausible(value: float, comparator: Comparator | None, prepared: Prepared) -> bool:
    """An exact count outside the analyte's plausible range (a censored one may be real)."""
    if comparator is not None or prepared.value_kind == "percent":
        return False
    low, high = prepared.analyte.plausible
    return value < low or value > high


def _context_range(row: RangeRow, flag: Flag) -> ContextRange:
    assert row.low is not None and row.high is not None  # a reference interval's limits
    return ContextRange(
        low=row.low,
        high=row.high,
        unit="%" if row.value_kind == "percent" else "10*9/L",
        source=row.source,
        population=row.population.description,
        flag=flag,
    )


def _limit_results(rows: tuple[RangeRow, ...], sides: tuple[bool | None, ...]) -> list[LimitResult]:
    return [
        construct_checked(
            LimitResult,
            {
                "name": row.name,
                "level": row.level,
                "low": row.low,
                "high": row.high,
                "unit": "%" if row.value_kind == "percent" else "10*9/L",
                "beyond": side,
                "source": row.source.id,
            },
        )
        for row, side in zip(rows, sides, strict=True)
    ]


_FIELDS = tuple(Interpretation.model_fields)


def _construct(values: dict[str, Any]) -> Interpretation:
    """An Interpretation of parts that are all validated already, without validating again."""
    return construct_checked(Interpretation, values)


def _validate(values: dict[str, Any]) -> Interpretation:
    return Interpretation(**values)


def _construct_is_faithful() -> bool:
    """Whether :func:`_construct` gives what validation gives, with this pydantic."""
    sample = {
        "analyte": "wbc",
        "count": Count(value=3.2, comparator="<", raw="<3.2", warnings=["w"]),
        "person": Person(age_years=40.0, sex="female"),
        "flag": "low",
        "code": "L",
        "table_flag": None,
        "leukopenia": True,
        "reference": None,
        "leukopenia_threshold": None,
        "limits": [],
        "grade": None,
        "severity": None,
        "context_ranges": [],
        "percentage": None,
        "library_version": __version__,
        "table": None,
        "sources": [],
        "warnings": ["w"],
        "summary": "",
        "text": "t",
    }
    try:
        built, validated = _construct(dict(sample)), _validate(dict(sample))
        return (
            tuple(sample) == _FIELDS
            and built == validated
            and built.model_dump_json() == validated.model_dump_json()
            and built.model_fields_set == validated.model_fields_set
            and repr(built) == repr(validated)
        )
    except Exception:  # any change in pydantic's internals: validate instead
        return False


_CONSTRUCT_IS_FAITHFUL = _construct_is_faithful()


def prepare(
    table: RangeTable,
    analyte: str | Analyte,
    value_kind: ValueKind,
    age: AgeInput,
    sex: str | None,
    ethnicity: str | None,
    duffy: str | None = None,
    grading: str | None = DEFAULT_GRADING,
    duffy_cohort: str | None = None,
) -> Prepared:
    """What depends only on the table, the analyte, the kind of value and the person.

    Cached per table (bounded), keyed by the inputs as given: the row engine and
    :func:`interpret_count` share it.
    """
    return _prepared(
        _caches(table),
        table,
        analyte,
        value_kind,
        age,
        sex,
        ethnicity,
        duffy,
        grading,
        duffy_cohort,
    )


def _prepared(
    caches: _Caches,
    table: RangeTable,
    analyte: str | Analyte,
    value_kind: ValueKind,
    age: AgeInput,
    sex: str | None,
    ethnicity: str | None,
    duffy: str | None = None,
    grading: str | None = DEFAULT_GRADING,
    duffy_cohort: str | None = None,
) -> Prepared:
    analyte_id = analyte.id if isinstance(analyte, Analyte) else analyte
    people = caches.people
    key = (analyte_id, value_kind, type(age), age, sex, ethnicity, duffy, grading, duffy_cohort)
    inputs = (table, analyte, value_kind, age, sex, ethnicity, duffy, grading, duffy_cohort)
    try:
        found: Prepared | None = people.get(key)
    except TypeError:  # an unhashable input: read it uncached (and most likely refuse it)
        return _prepare(*inputs)
    if found is None:
        found = people.put(key, _prepare(*inputs))
    return found


def _prepare(
    table: RangeTable,
    analyte_name: str | Analyte,
    value_kind: ValueKind,
    age: AgeInput,
    sex: str | None,
    ethnicity: str | None,
    duffy: str | None = None,
    grading: str | None = DEFAULT_GRADING,
    duffy_cohort: str | None = None,
) -> Prepared:
    analyte = get_analyte(analyte_name)
    if ethnicity is not None and not isinstance(ethnicity, str):
        raise TypeError(f"ethnicity must be a text or None, not {type(ethnicity).__name__}")
    system = _grading_system(grading)
    age_read = read_age(age)
    sex_read = parse_sex(sex)
    duffy_read = parse_duffy(duffy)
    group, recognised = _groups(table, ethnicity) if ethnicity else (None, None)
    duffy_populations = _duffy_populations(duffy_cohort)
    populations = duffy_populations if duffy_read == "null" else ()
    selection = table.select(
        age=age_read,
        sex=sex_read,
        ethnicity=group,
        analyte=analyte.id,
        value_kind=value_kind,
        populations=populations,
    )
    warnings: list[str] = []
    if ethnicity and recognised is None and ethnicity.strip():
        # the text is in person.ethnicity_text; one wording keeps such people in one class
        warnings.append(
            f"the ethnicity given matches no ancestry group of table {table.name!r}: "
            "no ancestry note was added"
        )
    if duffy_read == "null" and (
        selection.reference is None
        or selection.reference.population.ethnicity not in duffy_populations
    ):
        warnings.append(
            f"table {table.name!r} has no Duffy-null range that applies here: "
            "the standard range was used"
        )
    context = None
    if duffy_read is None and group in _DUFFY_NULL_COMMON and selection.reference is not None:
        duffy_selection = table.select(
            age=age_read,
            sex=sex_read,
            ethnicity=group,
            analyte=analyte.id,
            value_kind=value_kind,
            populations=duffy_populations,
        )
        found = duffy_selection.reference
        if found is not None and found.population.ethnicity in duffy_populations:
            context = found
    if age_read is None:
        warnings.append("age not given: the adult ranges were used")
    if sex is not None and sex.strip() and not sex_is_known_code(sex):
        warnings.append(
            f"sex {_clean_text(sex)[:40]!r} not recognised: read as unknown (never assumed male)"
        )
    reference = selection.reference
    if reference is None:
        child = age_read is not None and age_read.years < ADULT_AGE
        who = "a child" if child else "an adult"
        what = "reference range" if analyte.id == "wbc" else f"{analyte.noun_for(value_kind)} range"
        warnings.append(
            f"no {what} in table {table.name!r} applies to {who} of "
            f"{'unknown sex' if sex_read == 'unknown' else 'sex ' + sex_read}: not flagged"
        )
    elif sex_read == "unknown" and reference.population.sex == "unknown":
        warnings.append("sex unknown: the range stated without a sex was used")
    threshold = selection.threshold
    return Prepared(
        analyte=analyte,
        value_kind=value_kind,
        age=age_read,
        sex=sex_read,
        group=group,
        recognised_group=recognised,
        ethnicity_text=_clean_text(ethnicity) if ethnicity else None,
        duffy=duffy_read,
        grading=system,
        selection=selection,
        warnings=tuple(warnings),
        reference=reference.reference if reference is not None else None,
        # a leukopenia limit without a figure (children) is no threshold to compare with
        threshold=None if threshold is None else threshold.threshold,
        limits=selection.limits,
        grades=_grade_bands(table, selection, system),
        threshold_index=None if threshold is None else selection.limits.index(threshold),
        context=context,
        has_levels=any(row.level for row in selection.limits),
    )


def _groups(table: RangeTable, ethnicity: str) -> tuple[str | None, str | None]:
    """The table's group of an ethnicity text, and the group it is recognised as (an
    ancestry the table has no rows for is still recognised: no warning, never used)."""
    known = _caches(table).ethnicities
    found: tuple[str | None, str | None] | None = known.get(ethnicity)
    if found is None:
        group = match_ethnicity(ethnicity, table.groups)
        recognised = group if group is not None else match_ethnicity(ethnicity, ancestry_groups())
        found = known.put(ethnicity, (group, recognised))
    return found


def _clean_text(text: str) -> str:
    """A text as given, with lone surrogates (undecodable command-line bytes) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _grade_bands(
    table: RangeTable, selection: Selection, system: str | None
) -> tuple[_GradeBand, ...]:
    """The grade rows of one grading system with LLN/ULN resolved; a band that needs a
    missing range is left out. Built once per (reference interval, grade rows, system).
    """
    if not selection.grades or system is None:
        return ()
    reference = selection.reference
    key = (
        "grades",
        system,
        None if reference is None else reference.id,
        *(r.id for r in selection.grades),
    )
    derived = table.derived_cache()
    found: tuple[_GradeBand, ...] | None = derived.get(key)
    if found is None:
        found = derived.setdefault(key, _resolved_grade_bands(selection, system))
    return found


def _resolved_grade_bands(selection: Selection, system: str) -> tuple[_GradeBand, ...]:
    reference = selection.reference
    known = grading_systems().get(system)
    bands = []
    for row in selection.grades:
        row_system, term = split_grade_name(row.name)
        if row_system != system:
            continue
        limits: dict[str, float | None] = {"LLN": None, "ULN": None}
        if reference is not None:
            limits = {"LLN": reference.low, "ULN": reference.high}
        low = row.low if row.low_reference is None else limits[row.low_reference]
        high = row.high if row.high_reference is None else limits[row.high_reference]
        if (row.low_reference and low is None) or (row.high_reference and high is None):
            continue  # "<LLN" needs the reference range in use
        if low is not None and high is not None and low >= high:
            continue  # an empty band: the reference limit is below the next grade's
        unit = "%" if row.value_kind == "percent" else "10*9/L"
        grade = Grade(
            system=known.label if known is not None else row_system,
            term=known.term_label(term) if known is not None else term,
            grade=int(row.level),
            low=low,
            high=high,
            unit=unit,
            source=row.source.id,
        )
        bands.append(_GradeBand(low, high, grade))
    return tuple(bands)


def _grading_system(grading: str | None) -> str | None:
    """The grading system id asked for; an unknown one is a CBCError naming the known ones."""
    if grading is None:
        return None
    if not isinstance(grading, str):
        raise TypeError(f"grading must be a text or None, not {type(grading).__name__}")
    known = set(grading_systems()) | set(_BUILT_IN_GRADING)
    if grading not in known:
        raise CBCError(
            f"unknown grading system {grading[:40]!r}; known: {', '.join(sorted(known))}",
            raw=grading,
            suggestions=suggest(grading, known),
        )
    return grading


def _absolute(count: Count, wbc: str | float | Count) -> Count:
    """A percentage of white cells as an absolute count, from the total white cell count."""
    total = wbc if isinstance(wbc, Count) else read_value(wbc, analyte="wbc")
    if total.unit == "%":
        raise UnitError("wbc must be a white cell count per volume, not a percentage", raw=wbc)
    if total.comparator is not None:
        raise ParseError(
            f"wbc {total.raw or format_number(total.value)!r} is a bound, not a count: "
            "an absolute count cannot be worked out from it",
            raw=wbc,
        )
    absolute = count.value * total.value / 100
    note = (
        f"worked out as {format_number(count.value)} % of a white cell count of "
        f"{format_number(total.value)} × 10⁹/L"
    )
    return Count(
        value=absolute,
        comparator=count.comparator,
        unit_text=count.unit_text,
        unit="10*9/L",
        raw=count.raw,
        warnings=[*count.warnings, *total.warnings, note],
    )


#: the Duffy-null cohorts of Hibbs et al. 2025 a table may carry (population duffy_null_<cohort>)
DUFFY_COHORTS = ("usa", "uk", "saudi", "namibia")


def _duffy_populations(cohort: str | None) -> tuple[str, ...]:
    """The populations a Duffy-null person is looked up in: the cohort's, then the default."""
    if cohort is None:
        return (DUFFY_NULL,)
    if not isinstance(cohort, str):
        raise TypeError(f"duffy_cohort must be a text or None, not {type(cohort).__name__}")
    key = cohort.strip().lower().replace(" ", "_")
    key = {"us": "usa", "united_states": "usa", "saudi_arabia": "saudi", "gb": "uk"}.get(key, key)
    if key not in DUFFY_COHORTS:
        raise CBCError(
            f"unknown Duffy-null cohort {cohort[:40]!r}; known: {', '.join(DUFFY_COHORTS)}",
            raw=cohort,
            suggestions=suggest(key, DUFFY_COHORTS),
        )
    # the USA cohort is the default population duffy_null
    return (DUFFY_NULL,) if key == "usa" else (f"{DUFFY_NULL}_{key}", DUFFY_NULL)


#: a laboratory's own range: (low, high) in the value's unit, or text such as "4.0-11.0 K/uL"
LabRange = tuple[float | None, float | None] | str

#: the source of a range the reporting laboratory gives with the result
LAB_SOURCE = Source(
    id=LAB_SOURCE_ID,
    title="The range printed with the result",
    publisher="the laboratory that ran the test",
    kind="user",
)
_LAB_POPULATION = Population(description="the person tested, as the laboratory reports it")
_NUMBER = r"[0-9]{1,12}(?:[.,][0-9]{1,12})?"
_LAB_RANGE = re.compile(
    rf"^\s*(?:(?P<low>{_NUMBER})\s*(?:-|–|—|to)\s*(?P<high>{_NUMBER})"
    rf"|(?P<cmp><=|>=|<|>|≤|≥)\s*(?P<one>{_NUMBER}))\s*(?P<unit>\S.{{0,60}})?\s*$"
)


def _lab_number(text: str) -> float:
    return float(text.replace(",", "."))


# lab ranges repeat (one per lab and test): each text and unit is read once
_LAB_RANGES = BoundedCache(1 << 12)


def _read_lab_range(lab_range: LabRange, count: Count) -> tuple[float | None, float | None]:
    """A lab's range in 10^9/L (or %), from a pair in the value's unit or from text (cached)."""
    try:
        key = (lab_range, count.unit, count.unit_text)
        found: tuple[float | None, float | None] | None = _LAB_RANGES.get(key)
    except TypeError:  # an unhashable range: read it uncached (and most likely refuse it)
        return _lab_range_limits(lab_range, count)
    if found is None:
        found = _LAB_RANGES.put(key, _lab_range_limits(lab_range, count))
    return found


def _lab_range_limits(lab_range: LabRange, count: Count) -> tuple[float | None, float | None]:
    """A lab's range in 10^9/L (or %), from a pair in the value's unit or from text."""
    unit_text: str | None = None
    if isinstance(lab_range, str):
        match = _LAB_RANGE.match(lab_range)
        if match is None:
            raise ParseError(
                f"lab range {lab_range[:40]!r} cannot be read: write it as '4.0-11.0', "
                "'4.0 - 11.0 K/uL', '<11.0' or '>4.0'",
                raw=lab_range,
            )
        if match["cmp"] is not None:
            one = _lab_number(match["one"])
            low, high = (None, one) if match["cmp"] in ("<", "<=", "≤") else (one, None)
        else:
            low, high = _lab_number(match["low"]), _lab_number(match["high"])
        unit_text = match["unit"]
    elif isinstance(lab_range, (tuple, list)) and len(lab_range) == 2:
        low, high = lab_range
        for limit in (low, high):
            if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, (int, float))
            ):
                raise TypeError("lab_range limits must be numbers or None")
    else:
        raise TypeError(
            "lab_range must be a (low, high) pair or a text such as '4.0-11.0', "
            f"not {type(lab_range).__name__}"
        )
    if low is None and high is None:
        raise ParseError("lab range has neither a low nor a high limit", raw=lab_range)
    factor = _lab_factor(unit_text, count)
    converted = [None if x is None else float(f"{x * factor:.12g}") for x in (low, high)]
    if any(x is not None and not (math.isfinite(x) and x >= 0) for x in converted):
        raise ParseError("lab range limits must be finite and not negative", raw=lab_range)
    if converted[0] is not None and converted[1] is not None and converted[0] > converted[1]:
        raise ParseError(f"lab range {lab_range!r}: low is above high", raw=lab_range)
    return converted[0], converted[1]


def _lab_factor(unit_text: str | None, count: Count) -> float:
    """What one unit of the lab range is in the result's unit (10^9/L, or 1 for %)."""
    if count.unit == "%":
        if unit_text is not None and unit_text.strip() != "%":
            raise UnitError(f"a percentage's lab range must be in %, not {unit_text!r}")
        return 1.0
    from cbc_ranges.units import read_unit

    if unit_text is not None:
        return read_unit(unit_text).factor
    if count.unit_text:  # the range is in the value's own unit
        return read_unit(count.unit_text).factor
    return 1.0  # a value with no unit was read as 10^9/L


def _with_lab_range(
    caches: _Caches, prepared: Prepared, limits: tuple[float | None, float | None]
) -> Prepared:
    """The prepared person with the lab's range as the reference interval (kept per range)."""
    key = ("lab-range", prepared, limits)
    found: Prepared | None = caches.people.get(key)
    if found is not None:
        return found
    low, high = limits
    notes: list[str] = []
    table_reference = prepared.reference
    if table_reference is not None and (low is None or high is None):
        # a one-sided lab range: its open side is the table's (never an open "normal")
        side = "lower" if low is None else "upper"
        filled = table_reference.low if low is None else table_reference.high
        low, high = (filled, high) if low is None else (low, filled)
        notes.append(
            f"the lab's range gives no {side} limit: the table's "
            f"({format_number(filled or 0.0)}, {table_reference.source.id}) was used"
        )
    unit = "%" if prepared.value_kind == "percent" else "10*9/L"
    reference = ReferenceRange(
        low=low, high=high, population=_LAB_POPULATION, source=LAB_SOURCE,
        note="the reporting laboratory's own range", analyte=prepared.analyte.id, unit=unit,
    )  # fmt: skip
    row = RangeRow(
        id="reporting-laboratory",
        line=0,
        analyte=prepared.analyte.id,
        value_kind=prepared.value_kind,
        kind="reference_interval",
        population=_LAB_POPULATION,
        low=low,
        high=high,
        source=LAB_SOURCE,
        note=reference.note,
        reference=reference,
    )
    selection = replace(prepared.selection, reference=row)
    found = replace(
        prepared,
        selection=selection,
        reference=reference,
        grades=_resolved_grade_bands(selection, prepared.grading) if prepared.grading else (),
        explanations={},
        limit_results={},
        context_results={},
        warnings=(*prepared.warnings, *notes),
    )
    return caches.people.put(key, found)  # type: ignore[no-any-return]


def with_lab_range(
    table: RangeTable, prepared: Prepared, lab_range: LabRange, count: Count
) -> tuple[Prepared, tuple[str, ...]]:
    """A prepared person with a lab's own range as its reference interval, for one count,
    and the warnings of the lab range itself (the row engine's way to ``lab_range=``).

    Raises :class:`~cbc_ranges.errors.ParseError` / :class:`~cbc_ranges.errors.UnitError`
    for a range that cannot be read.
    """
    lab = _with_lab_range(_caches(table), prepared, _read_lab_range(lab_range, count))
    return lab, lab.warnings[len(prepared.warnings) :]


def lab_range_warnings(flag: Flag, table_flag: Flag, table_prepared: Prepared) -> list[str]:
    """The table's reading of a value flagged against a lab's range, when it differs."""
    reference = table_prepared.reference
    if table_flag == flag or reference is None:
        return []
    return [
        f"the lab's own range gives {flag}; the range of this library's table "
        f"({format_number(reference.low or 0.0)}–{format_number(reference.high or 0.0)}, "
        f"{reference.source.id}) would give {table_flag}: the lab's range was used"
    ]
