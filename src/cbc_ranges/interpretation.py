"""Interpretation: a WBC count compared with the range that applies to a person, explained.

This is the mission of the library in one call. :func:`interpret` reads the
value (as :func:`~cbc_ranges.count.parse_count` does), reads the person
(:mod:`cbc_ranges.people`), picks the rows of the range table that apply
(:mod:`cbc_ranges.ranges`), flags the count (:mod:`cbc_ranges.classify`) and
adds educational text with its sources (:mod:`cbc_ranges.explain`). The result
is an :class:`~cbc_ranges.models.Interpretation`, JSON-ready. It describes how
one number compares with published ranges; it is not a diagnosis.

:func:`interpret_count` does the same for a count already parsed; it is what
the batch and DataFrame code call, and it caches everything that depends only on
the table and the person, so a call costs a few microseconds.

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

from dataclasses import dataclass, field
from typing import Any

from cbc_ranges.classify import below_threshold, code_for, flag_for
from cbc_ranges.count import parse_count
from cbc_ranges.explain import Explanation, age_group, explain
from cbc_ranges.models import (
    Comparator,
    Count,
    Flag,
    Interpretation,
    Person,
    ReferenceRange,
    construct_checked,
)
from cbc_ranges.people import match_ethnicity, parse_age, parse_sex, sex_is_recognised
from cbc_ranges.ranges import RangeTable, Selection, format_number, get_table

__all__ = ["interpret", "interpret_count"]

# how many distinct people (age, sex, ethnicity inputs) a table remembers, and where
_PEOPLE_CACHE_SIZE = 1 << 14
_PEOPLE = "cbc_ranges.interpretation.people"


@dataclass
class _Prepared:
    """What depends only on the table and the person inputs."""

    person: Person
    selection: Selection
    warnings: tuple[str, ...]
    # the models the result points to, built once
    reference: ReferenceRange | None
    threshold: ReferenceRange | None
    # (flag, leukopenia, comparator) -> text and sources, filled as results come
    explanations: dict[tuple[Flag, bool | None, Comparator | None], Explanation] = field(
        default_factory=dict
    )


def interpret(
    value: str | int | float,
    unit: str | None = None,
    *,
    age: float | int | str | None = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    table: RangeTable | str | None = None,
) -> Interpretation:
    """Compare a WBC count with the reference range for a person and explain it.

    ``value`` and ``unit`` are read as by :func:`~cbc_ranges.count.parse_count`.
    ``age`` is years, or a text such as ``"6 months"``; ``sex`` is female/male/F/M
    in any case (anything else is unknown, never male); ``ethnicity`` is free
    text matched to the table's groups and otherwise ignored. ``table`` is a
    loaded :class:`~cbc_ranges.ranges.RangeTable`, a shipped table's name or a
    path; by default the ``documents`` table.

    Raises :class:`~cbc_ranges.errors.ParseError` / :class:`~cbc_ranges.errors.UnitError`
    for a value that cannot be read, :class:`~cbc_ranges.errors.PersonError` for
    an unreadable age and :class:`~cbc_ranges.errors.RangeTableError` for a table
    that does not load.

    >>> interpret(4.5, age=30, sex="female").flag
    'normal'
    >>> interpret("4,000 cells/µL", age="8 years").leukopenia is None  # children: no threshold
    True
    >>> interpret("<1.0", age=30, sex="m").flag
    'low'
    """
    count = parse_count(value, unit)
    return interpret_count(count, age=age, sex=sex, ethnicity=ethnicity, table=table)


def interpret_count(
    count: Count,
    *,
    age: float | int | str | None = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    table: RangeTable | str | None = None,
) -> Interpretation:
    """Like :func:`interpret`, for a count that is already parsed.

    >>> from cbc_ranges.models import Count
    >>> interpret_count(Count(value=12.5), age=50, sex="M").code
    'H'
    """
    found_table = get_table(table)
    prepared = _prepared(found_table, age, sex, ethnicity)
    selection = prepared.selection
    reference, threshold = selection.reference, selection.threshold
    value, comparator = count.value, count.comparator
    if reference is None:
        flag: Flag = "indeterminate"
    else:
        flag = flag_for(value, comparator, reference.low, reference.high)
    leukopenia = below_threshold(value, comparator, threshold.low) if threshold else None
    key = (flag, leukopenia, comparator)
    explanation = prepared.explanations.get(key)
    if explanation is None:
        explanation = explain(
            flag=flag,
            leukopenia=leukopenia,
            comparator=comparator,
            selection=selection,
            person=prepared.person,
            table=found_table,
        )
        prepared.explanations[key] = explanation
    value_text = (
        format_number(value) if comparator is None else f"{comparator}{format_number(value)}"
    )
    warnings = [*count.warnings, *prepared.warnings]
    if flag == "indeterminate" and reference is not None:
        warnings.append(
            f"the reported bound {value_text} lies on both sides of a limit of the reference "
            "range, so it was not flagged"
        )
    return _assemble(
        {
            "count": count,
            "person": prepared.person,
            "flag": flag,
            "code": code_for(flag),
            "leukopenia": leukopenia,
            "reference": prepared.reference,
            "leukopenia_threshold": prepared.threshold,
            "sources": list(explanation.sources),
            "warnings": warnings,
            "text": explanation.render(value_text),
        }
    )


_FIELDS = tuple(Interpretation.model_fields)


def _construct(values: dict[str, Any]) -> Interpretation:
    """An Interpretation of parts that are all validated already, without validating again."""
    return construct_checked(Interpretation, values)


def _validate(values: dict[str, Any]) -> Interpretation:
    return Interpretation(**values)


def _construct_is_faithful() -> bool:
    """Whether :func:`_construct` gives what validation gives, with this pydantic."""
    sample = {
        "count": Count(value=3.2, comparator="<", raw="<3.2", warnings=["w"]),
        "person": Person(age_years=40.0, sex="female"),
        "flag": "low",
        "code": "L",
        "leukopenia": True,
        "reference": None,
        "leukopenia_threshold": None,
        "sources": [],
        "warnings": ["w"],
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


_assemble = _construct if _construct_is_faithful() else _validate


def _prepared(
    table: RangeTable,
    age: float | int | str | None,
    sex: str | None,
    ethnicity: str | None,
) -> _Prepared:
    people = table.derived_cache().get(_PEOPLE)
    if people is None:
        people = table.derived_cache().setdefault(_PEOPLE, {})
    key = (type(age), age, sex, ethnicity)
    try:
        found: _Prepared | None = people.get(key)
    except TypeError:  # an unhashable input: read it uncached (and most likely refuse it)
        return _prepare(table, age, sex, ethnicity)
    if found is None:
        found = _prepare(table, age, sex, ethnicity)
        if len(people) >= _PEOPLE_CACHE_SIZE:  # keep memory bounded for free-text inputs
            people.clear()
        people[key] = found
    return found


def _prepare(
    table: RangeTable,
    age: float | int | str | None,
    sex: str | None,
    ethnicity: str | None,
) -> _Prepared:
    age_years = parse_age(age)
    sex_read = parse_sex(sex)
    group = match_ethnicity(ethnicity, table.groups) if ethnicity else None
    person = Person(
        age_years=age_years,
        sex=sex_read,
        ethnicity=group,
        ethnicity_text=ethnicity if ethnicity else None,
    )
    selection = table.select(age_years=age_years, sex=sex_read, ethnicity=group)
    warnings: list[str] = []
    if age_years is None:
        warnings.append("age not given: the adult ranges were used")
    if sex is not None and sex.strip() and not sex_is_recognised(sex):
        warnings.append(f"sex {sex!r} not recognised: read as unknown (never assumed male)")
    reference = selection.reference
    if reference is None:
        who = {"adult": "an adult", "child": "a child", "unknown": "an adult"}[age_group(person)]
        warnings.append(
            f"no reference range in table {table.name!r} applies to {who} of "
            f"{'unknown sex' if sex_read == 'unknown' else 'sex ' + sex_read}: not flagged"
        )
    elif sex_read == "unknown" and reference.population.sex == "unknown":
        warnings.append("sex unknown: the range stated without a sex was used")
    threshold = selection.threshold
    return _Prepared(
        person=person,
        selection=selection,
        warnings=tuple(warnings),
        reference=reference.reference if reference is not None else None,
        # a threshold row without a figure (children) is no threshold to compare with
        threshold=threshold.reference
        if threshold is not None and threshold.low is not None
        else None,
    )
