"""Duffy-null ranges and context, percentages worked out with the total count, severity."""

from __future__ import annotations

import pytest

from cbc_ranges import interpret
from cbc_ranges.errors import CBCError, ParseError, PersonError, UnitError
from cbc_ranges.models import Count


@pytest.mark.parametrize("status", ["null", "Fy(a-b-)", "FY(A−B−)", "negative", "Duffy null"])
def test_a_duffy_null_status_selects_the_hibbs_range(status: str) -> None:
    result = interpret("1.3", "K/uL", analyte="neutrophils", age=40, sex="F", duffy=status)
    assert result.reference is not None
    assert (result.reference.low, result.reference.high) == (1.21, 5.39)
    assert result.reference.source.id == "hibbs-2025"
    assert result.flag == "normal"
    assert result.person.duffy == "null"
    assert result.context_ranges == []  # the Duffy-null range is the range itself here


def test_a_duffy_positive_person_gets_the_usual_range_and_no_context() -> None:
    result = interpret("1.3", "K/uL", analyte="neutrophils", age=40, ethnicity="Black",
                       duffy="positive")  # fmt: skip
    assert result.reference is not None and result.reference.low == 1.8
    assert (result.flag, result.context_ranges) == ("low", [])


@pytest.mark.parametrize(("ethnicity", "group"), [("Black", "african"), ("Somali", "african"),
                                                  ("Yemeni", "middle_eastern")])  # fmt: skip
def test_an_ancestry_where_duffy_null_is_common_gets_it_as_context(
    ethnicity: str, group: str
) -> None:
    result = interpret("1.3", "K/uL", analyte="neutrophils", age=40, ethnicity=ethnicity)
    assert result.person.ethnicity_group == group
    assert result.flag == "low"  # the flag stays with the standard range
    [context] = result.context_ranges
    assert (context.low, context.high, context.flag) == (1.21, 5.39, "normal")
    assert context.source.id == "hibbs-2025"
    assert "Duffy-null" in result.text and "hibbs-2025" in [s.id for s in result.sources]
    assert result.severity == "mild"


def test_no_context_for_other_ancestries_children_or_a_given_status() -> None:
    assert interpret("1.3", "K/uL", analyte="neutrophils", age=40, ethnicity="White"
                     ).context_ranges == []  # fmt: skip
    assert interpret("1.3", "K/uL", analyte="neutrophils", age=8, ethnicity="Black"
                     ).context_ranges == []  # fmt: skip


def test_an_unmatched_ethnicity_is_warned_about_never_silent() -> None:
    result = interpret("5.0", age=40, ethnicity="Klingon")
    assert result.person.ethnicity_group is None
    assert any("matches no ancestry group" in w for w in result.warnings)


@pytest.mark.parametrize(("cohort", "low", "high"), [(None, 3.0, 9.66), ("uk", 3.1, 8.8),
                         ("saudi", 3.72, 10.71), ("Namibia", 2.51, 9.85)])  # fmt: skip
def test_a_duffy_null_cohort_can_be_chosen(cohort: str | None, low: float, high: float) -> None:
    result = interpret("3.0", age=40, duffy="null", table="duffy-null", duffy_cohort=cohort)
    assert result.reference is not None
    assert (result.reference.low, result.reference.high) == (low, high)


def test_bad_duffy_inputs_are_typed_errors() -> None:
    with pytest.raises(PersonError, match="Duffy status"):
        interpret("3.0", age=40, duffy="maybe")
    with pytest.raises(TypeError, match="duffy must be"):
        interpret("3.0", age=40, duffy=1)  # type: ignore[arg-type]
    with pytest.raises(CBCError, match="did you mean 'saudi'"):
        interpret("3.0", age=40, duffy="null", duffy_cohort="saudy")


def test_a_percentage_with_the_total_count_is_compared_as_a_count() -> None:
    result = interpret("20", "%", analyte="neutrophils", age=40, wbc="6.0 K/uL")
    assert (result.count.value, result.percentage) == (1.2, 20.0)
    assert result.reference is not None and result.reference.unit == "10*9/L"
    assert (result.flag, result.severity) == ("low", "mild")
    assert any("20.0 % of a white cell count of 6.0" in w for w in result.warnings)
    same = interpret("20 %", analyte="neutrophils", age=40, wbc=Count(value=6.0))
    assert same.count.value == 1.2


def test_a_percentage_without_the_total_is_compared_as_a_percentage_with_a_warning() -> None:
    result = interpret("20", "%", analyte="neutrophils", age=40)
    assert result.reference is not None and result.reference.unit == "%"
    assert result.percentage is None and result.flag == "low"
    assert any("give the total white cell count" in w for w in result.warnings)


def test_the_total_must_be_an_exact_count() -> None:
    with pytest.raises(ParseError, match="is a bound"):
        interpret("20", "%", analyte="neutrophils", age=40, wbc="<2.0")
    with pytest.raises(UnitError):
        interpret("20", "%", analyte="neutrophils", age=40, wbc="50 %")


@pytest.mark.parametrize(
    ("value", "severity", "grade_v5", "grade_v6"),
    [("1.6", None, 1, None), ("1.2", "mild", 2, 1), ("0.7", "moderate", 3, 2),
     ("0.3", "severe", 4, 3), ("0.05", "severe", 4, 4)],
)  # fmt: skip
def test_neutropenia_severity_and_both_ctcae_versions(
    value: str, severity: str | None, grade_v5: int, grade_v6: int | None
) -> None:
    v5 = interpret(value, "K/uL", analyte="neutrophils", age=40)
    v6 = interpret(value, "K/uL", analyte="neutrophils", age=40, grading="ctcae-v6")
    assert v5.severity == severity
    assert v5.grade is not None and (v5.grade.system, v5.grade.grade) == ("CTCAE v5.0", grade_v5)
    assert (v6.grade.grade if v6.grade else None) == grade_v6
    if severity == "severe":
        assert "today" in v5.text.lower() or "same day" in v5.text.lower()
        assert "far below" in v5.summary
