"""interpret(): the flag, the HL7 code, leukopenia, censored values and the result model."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges.classify import FLAG_ORDER, below_threshold, flag_for
from cbc_ranges.count import parse_count
from cbc_ranges.data import clear_caches
from cbc_ranges.errors import CBCError, ParseError, PersonError, RangeTableError, UnitError
from cbc_ranges.interpretation import interpret, interpret_count
from cbc_ranges.models import Count, Interpretation, Person, Sex
from cbc_ranges.ranges import LEGACY_COLUMNS, get_table, load_table

# the module, not the function of the same name the package exports
interpret_module = importlib.import_module("cbc_ranges.interpretation")

# one person per reference row of the default table
PEOPLE: dict[str, dict[str, Any]] = {
    "adult-male": {"age": 40, "sex": "male"},
    "adult-female": {"age": 40, "sex": "female"},
    "adult-sex-unknown": {"age": 40},
    "child": {"age": 8, "sex": "female"},
}

# the seed documents' table: the boundaries of the standard table are swept in
# tests/test_standard_table.py
LIMITS = [
    (row.id, row.low, row.high)
    for row in get_table("documents").rows
    if row.kind == "reference_interval"
]


def test_every_reference_row_has_a_person_here() -> None:
    assert sorted(PEOPLE) == sorted(row_id for row_id, _, _ in LIMITS)


@pytest.mark.parametrize(("row_id", "low", "high"), LIMITS)
def test_boundaries_of_every_reference_interval_are_inclusive(
    row_id: str, low: float, high: float
) -> None:
    person = PEOPLE[row_id]
    cases = [(low - 0.01, "low", "L"), (low, "normal", "N"), (high, "normal", "N")]
    cases.append((high + 0.01, "high", "H"))
    for value, flag, code in cases:
        result = interpret(value, "10^9/L", **person, table="documents")
        assert result.reference is not None
        assert (result.flag, result.code) == (flag, code), (row_id, value)


@pytest.mark.parametrize(
    ("value", "leukopenia"),
    [("3.99", True), ("4.0", False), ("4.01", False), ("3,999 /uL", True), ("4,000 /uL", False)],
)
def test_the_leukopenia_threshold_is_strict(value: str, leukopenia: bool) -> None:
    for sex in ("female", "male", None):
        result = interpret(value, age=30, sex=sex)
        assert result.leukopenia is leukopenia
        assert result.leukopenia_threshold is not None
        assert result.leukopenia_threshold.low == 4.0


def test_female_exactly_at_the_limits_is_normal() -> None:
    assert interpret(4.5, age=30, sex="F").flag == "normal"
    assert interpret(11.0, age=30, sex="F").flag == "normal"
    assert interpret(4.5, age=30, sex="M").flag == "low"


def test_children_get_no_leukopenia_flag_and_a_note_on_age() -> None:
    result = interpret("1.0", age="6 months", sex="M", table="documents")
    assert result.flag == "low"
    assert result.leukopenia is None
    assert result.leukopenia_threshold is None
    assert result.reference is not None
    assert result.reference.population.age_to == 18
    banded = interpret("1.0", age="6 months", sex="M")  # the standard table: by age band
    assert banded.leukopenia is None and banded.reference is not None
    assert (banded.reference.low, banded.reference.high) == (6.1, 17.5)


def test_unknown_age_uses_adult_rules_with_a_warning() -> None:
    result = interpret("3.5", sex="female")
    assert result.reference is not None
    assert result.reference.population.age_from == 18
    assert result.leukopenia is True
    assert any("age not given" in warning for warning in result.warnings)
    assert result.person.age_years is None


def test_unknown_sex_uses_the_range_without_a_sex_never_the_male_one() -> None:
    for sex in (None, "", "x", "unknown", "other"):
        result = interpret("10.5", age=30, sex=sex)
        assert result.person.sex == "unknown"
        assert result.reference is not None
        assert result.reference.population.sex == "unknown"
        assert (result.reference.low, result.reference.high) == (4.5, 10.0)
        assert result.flag == "high"
    assert any("not recognised" in w for w in interpret(5, age=30, sex="x").warnings)
    assert not any("not recognised" in w for w in interpret(5, age=30).warnings)


def test_ethnicity_changes_the_text_not_the_flag() -> None:
    plain = interpret("4.2", age=30, sex="female")
    black = interpret("4.2", age=30, sex="female", ethnicity="Black")
    assert black.person.ethnicity == "african"
    assert black.person.ethnicity_text == "Black"
    assert (black.flag, black.code, black.leukopenia) == (plain.flag, plain.code, plain.leukopenia)
    assert black.reference == plain.reference
    assert "African or Middle Eastern ancestry" in black.text
    assert "African or Middle Eastern ancestry" not in plain.text
    assert "very low count" in black.text


def test_unmatched_ethnicity_is_ignored_without_error() -> None:
    result = interpret("5.5", age=30, sex="male", ethnicity="Martian")
    assert result.person.ethnicity is None
    assert result.person.ethnicity_text == "Martian"
    assert result.text == interpret("5.5", age=30, sex="male").text


CENSORED = [
    # female adult: 4.5-11.0 inclusive, leukopenia strictly below 4.0
    ("<4.5", "low", None),
    ("<4.0", "low", True),
    ("<=4.0", "low", None),
    ("<=4.5", "indeterminate", None),
    ("<1.0", "low", True),
    ("<6", "indeterminate", None),
    (">11", "high", False),
    (">=11", "indeterminate", False),
    (">=11.5", "high", False),
    (">5", "indeterminate", False),
    (">3", "indeterminate", None),
    (">=4.0", "indeterminate", False),
]


@pytest.mark.parametrize(("value", "flag", "leukopenia"), CENSORED)
def test_censored_values_are_flagged_only_when_wholly_on_one_side(
    value: str, flag: str, leukopenia: bool | None
) -> None:
    result = interpret(value, "10^9/L", age=30, sex="female")
    assert result.flag == flag
    assert result.leukopenia is leukopenia
    assert result.code == {"low": "L", "high": "H", "indeterminate": None}[flag]
    if flag == "indeterminate":
        assert "cannot be placed" in result.text
        assert any("both sides" in warning for warning in result.warnings)


def test_a_user_table_without_a_matching_row_gives_indeterminate(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_text(
        ",".join(LEGACY_COLUMNS)  # a table in the first format loads as it did
        + "\nf,wbc,reference_interval,18,,years,female,any,4,10,10^9/L,wikipedia,women only\n",
        encoding="utf-8",
    )
    table = load_table(path)
    for kwargs in ({"age": 30, "sex": "male"}, {"age": 5, "sex": "female"}, {"age": 30}):
        result = interpret("1.0", table=table, **kwargs)
        assert (result.flag, result.code, result.reference) == ("indeterminate", None, None)
        assert result.leukopenia is None
        assert "no reference range" in result.text
        assert "not a diagnosis" in result.text
        assert any("no reference range" in warning for warning in result.warnings)
    assert interpret("5", table=table, age=30, sex="f").flag == "normal"
    assert interpret("5", table=str(path), age=30, sex="f").reference is not None


def test_the_table_argument_takes_a_name() -> None:
    assert interpret("5", table="documents", age=30, sex="f").flag == "normal"
    with pytest.raises(RangeTableError):
        interpret("5", table="no-such-table")


def test_the_parser_warning_on_an_implausible_magnitude_is_carried_through() -> None:
    count = parse_count("4200", "K/uL")
    assert count.warnings
    result = interpret("4200", "K/uL", age=30, sex="male")
    assert result.warnings[: len(count.warnings)] == count.warnings


def test_no_unit_is_taken_as_10_9_per_litre_with_the_parser_warning() -> None:
    result = interpret("7.4", age=30, sex="male")
    assert result.count.value == 7.4
    assert result.flag == "normal"
    assert result.warnings


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: interpret("abc"), ParseError),
        (lambda: interpret("5", "mg/dL"), UnitError),
        (lambda: interpret("5", age="-3 years"), PersonError),
        (lambda: interpret("5", age="six"), PersonError),
        (lambda: interpret("5", table="missing.csv"), RangeTableError),
    ],
)
def test_bad_input_raises_a_cbc_error(call: Any, error: type[CBCError]) -> None:
    with pytest.raises(error):
        call()


def test_the_result_is_json_ready_and_round_trips() -> None:
    result = interpret("<1.0 K/uL", age="2y", sex="F", ethnicity="Arab")
    again = Interpretation.model_validate_json(result.model_dump_json())
    assert again == result
    assert again.count.comparator == "<"
    assert again.person.ethnicity == "middle_eastern"


def test_the_result_passes_its_own_validation() -> None:
    result = interpret("3.2", age=30, sex="f")
    assert Interpretation.model_validate(result.model_dump()) == result


def test_sources_have_titles_and_include_the_reference_source() -> None:
    result = interpret("3.2", age=30, sex="f")
    assert result.reference is not None
    ids = [source.id for source in result.sources]
    assert result.reference.source.id in ids
    assert len(ids) == len(set(ids))
    assert all(source.title and source.publisher for source in result.sources)


def test_interpret_count_matches_interpret() -> None:
    count = parse_count("12,500 /uL")
    assert interpret_count(count, age=50, sex="m") == interpret("12,500 /uL", age=50, sex="m")
    assert interpret_count(Count(value=12.5), age=50, sex="m").code == "H"


def test_cached_people_do_not_leak_between_inputs() -> None:
    """age 1 and age True must not share a cache entry; nor two tables."""
    assert interpret("5.5", age=1).reference == interpret("5.5", age=1.0).reference
    with pytest.raises(TypeError, match="age must be"):
        interpret("5.5", age=True)  # type: ignore[arg-type]
    child = interpret("4.8", age=1, sex="f")
    adult = interpret("4.8", age=40, sex="f")
    assert (child.flag, adult.flag) == ("low", "normal")


def test_the_people_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpret_module, "_PEOPLE_CACHE_SIZE", 10)
    clear_caches()  # a fresh table, whose people cache is made with the bound above
    table = get_table()
    for age in range(40):
        interpret_count(Count(value=5.0), age=age, sex="f", table=table)
    people = interpret_module._caches(table).people
    assert 0 < len(people) <= 10


SEXES: list[str | None] = ["female", "male", None]


@given(  # over the plausible counts: an implausible one is never flagged (test below)
    a=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
    b=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
    age=st.one_of(st.none(), st.floats(min_value=0, max_value=120)),
    sex=st.sampled_from(SEXES),
)
def test_a_higher_value_never_gets_a_lower_flag(
    a: float, b: float, age: float | None, sex: str | None
) -> None:
    low, high = sorted((a, b))
    flag_low = interpret_count(Count(value=low), age=age, sex=sex).flag
    flag_high = interpret_count(Count(value=high), age=age, sex=sex).flag
    assert FLAG_ORDER[flag_low] <= FLAG_ORDER[flag_high]


@given(
    value=st.floats(min_value=0, max_value=100, allow_nan=False),
    comparator=st.sampled_from(["<", "<=", ">", ">=", None]),
    low=st.floats(min_value=0, max_value=20),
    width=st.floats(min_value=0, max_value=20),
)
def test_a_censored_flag_holds_for_every_count_it_stands_for(
    value: float, comparator: Any, low: float, width: float
) -> None:
    high = low + width
    flag = flag_for(value, comparator, low, high)
    # sample counts the result stands for, near the bound and far from it
    if comparator in ("<", "<="):
        points = [value - d for d in (1e-6, 1.0, 1000.0)] + ([value] if comparator == "<=" else [])
    elif comparator in (">", ">="):
        points = [value + d for d in (1e-6, 1.0, 1000.0)] + ([value] if comparator == ">=" else [])
    else:
        points = [value]
    exact = {flag_for(point, None, low, high) for point in points}
    if flag != "indeterminate":
        assert exact == {flag}
    leukopenia = below_threshold(value, comparator, low)
    if leukopenia is not None:
        assert {below_threshold(point, None, low) for point in points} == {leukopenia}


@given(
    age=st.floats(min_value=0, max_value=120), sex=st.sampled_from(["female", "male", "unknown"])
)
def test_every_known_person_gets_a_decided_flag_for_an_exact_value(age: float, sex: Sex) -> None:
    result = interpret_count(Count(value=5.0), age=age, sex=sex)
    assert result.flag != "indeterminate"
    assert result.code is not None


@pytest.mark.parametrize(
    ("value", "person"),
    [
        ("3.2", {"age": 30, "sex": "f"}),
        ("<1.0", {"age": "2y", "ethnicity": "Black"}),
        (">6", {"sex": "m"}),
        ("4200", {"age": 70}),  # implausible: a parser warning
    ],
)
def test_results_built_without_revalidation_equal_validated_ones(
    value: str, person: dict[str, Any]
) -> None:
    result = interpret(value, **person)
    fields = {name: getattr(result, name) for name in Interpretation.model_fields}
    validated = Interpretation(**fields)
    assert result == validated
    assert repr(result) == repr(validated)
    assert result.model_fields_set == validated.model_fields_set
    assert result.model_dump_json() == validated.model_dump_json()


def test_the_fast_construction_is_in_use_and_checked() -> None:
    assert interpret_module._construct_is_faithful()
    assert interpret_module._CONSTRUCT_IS_FAITHFUL


@given(
    value=st.one_of(st.text(max_size=15), st.floats(allow_nan=True), st.integers()),
    age=st.one_of(st.none(), st.text(max_size=10), st.floats(allow_nan=True), st.integers()),
    sex=st.one_of(st.none(), st.text(max_size=8)),
    ethnicity=st.one_of(st.none(), st.text(max_size=20)),
)
def test_any_input_gives_a_result_or_a_cbc_error(
    value: str | float, age: str | float | None, sex: str | None, ethnicity: str | None
) -> None:
    try:
        result = interpret(value, age=age, sex=sex, ethnicity=ethnicity)
    except CBCError:
        return
    assert "not a diagnosis" in result.text
    assert result.flag in ("low", "normal", "high", "indeterminate")
    assert (result.code is None) == (result.flag == "indeterminate")


def test_the_package_attribute_stays_the_function_after_the_module_is_imported() -> None:
    import cbc_ranges
    import cbc_ranges.interpretation

    assert cbc_ranges.interpret is cbc_ranges.interpretation.interpret
    assert cbc_ranges.interpret("3.2", "K/uL", age=45, sex="F").flag == "low"


def test_the_outcome_cache_stays_bounded_and_hands_out_fresh_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(interpret_module, "_OUTCOMES_SIZE", 10)
    clear_caches()  # a fresh table, whose outcome cache is made with the bound above
    table = get_table("documents")
    first = interpret_count(Count(value=3.0), age=40, sex="f", table=table)
    first.limits.clear()
    first.sources.clear()
    again = interpret_count(Count(value=3.0), age=40, sex="f", table=table)
    assert [limit.name for limit in again.limits] == ["leukopenia"]
    clear_caches()
    fresh = interpret_count(Count(value=3.0), age=40, sex="f", table="documents")
    assert again.sources and again == fresh
    for tenth in range(40):
        interpret_count(Count(value=tenth / 10), age=40, sex="f", table=table)
    assert 0 < len(interpret_module._caches(table).outcomes) <= 10


@pytest.mark.parametrize(
    "kwargs",
    [
        {"age": 45, "sex": "female", "ethnicity": "Black"},
        {"age": "7 days"},
        {"age": None, "sex": "x", "ethnicity": "nowhere"},
    ],
)
def test_the_fast_built_person_and_limits_equal_validated_ones(kwargs: dict[str, Any]) -> None:
    result = interpret("3.9", **kwargs)
    person = result.person
    assert person == Person.model_validate(person.model_dump())
    assert repr(person) == repr(Person.model_validate(person.model_dump()))
    for limit in result.limits:
        assert limit == type(limit).model_validate(limit.model_dump())
        assert (
            limit.model_dump_json()
            == type(limit).model_validate(limit.model_dump()).model_dump_json()
        )


@pytest.mark.parametrize(
    ("value", "unit", "mix_up"),
    [("5200", None, "cells/µL entered as 10⁹/L"), ("9.9", "cells/uL", "10⁹/L entered as cells")],
)
def test_an_implausible_magnitude_is_never_flagged_low_or_high(
    value: str, unit: str | None, mix_up: str
) -> None:
    result = interpret(value, unit, age=40, sex="female")
    assert (result.flag, result.code, result.leukopenia, result.grade) == (
        "indeterminate",
        None,
        None,
        None,
    )
    assert any(mix_up in warning and "not flagged" in warning for warning in result.warnings)
    assert "not a diagnosis" in result.text
    # a censored value can be real however small: "<0.005" is still below the range
    assert interpret("<0.005", age=40, sex="female").flag == "low"
