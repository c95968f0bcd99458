"""The reporting laboratory's own range: it decides the flag, the table's reading is told."""

from __future__ import annotations

import pytest

from cbc_ranges import interpret
from cbc_ranges.errors import ParseError, UnitError


@pytest.mark.parametrize(
    ("lab_range", "unit", "value", "low", "high"),
    [
        ((3.5, 10.5), "K/uL", "4.2", 3.5, 10.5),
        ("3.5-10.5", "K/uL", "4.2", 3.5, 10.5),
        ("3.5 – 10.5 K/uL", "10^9/L", "4.2", 3.5, 10.5),
        ("3500 - 10500 /uL", "K/uL", "4.2", 3.5, 10.5),
        ((3500, 10500), "cells/uL", "4200", 3.5, 10.5),
        ("3,5 to 10,5", "G/L", "4,2", 3.5, 10.5),
    ],
)
def test_the_lab_range_decides_the_flag_in_the_values_unit(
    lab_range: object, unit: str, value: str, low: float, high: float
) -> None:
    result = interpret(value, unit, age=40, sex="male", lab_range=lab_range)  # type: ignore[arg-type]
    assert result.reference is not None
    assert (result.reference.low, result.reference.high) == (low, high)
    assert result.reference.source.id == "reporting-laboratory"
    assert (result.flag, result.code) == ("normal", "N")  # the table's 5.0-10.0 would say low
    assert any("would give low" in w for w in result.warnings)
    assert "printed with the result" in result.text and "5.0 to 10.0" in result.text
    assert "not a diagnosis" in result.text


@pytest.mark.parametrize(
    ("lab_range", "value", "flag", "limits"),
    [("<10.5", "11.0", "high", (4.5, 10.5)), ("<10.5", "0.5", "low", (4.5, 10.5)),
     ("<10.5", "6.0", "normal", (4.5, 10.5)), (">3.5", "3.0", "low", (3.5, 11.0)),
     (">3.5", "50", "high", (3.5, 11.0)), ("<=10.5", "10.5", "normal", (4.5, 10.5))],
)  # fmt: skip
def test_a_one_sided_lab_range_takes_its_open_side_from_the_table(
    lab_range: str, value: str, flag: str, limits: tuple[float, float]
) -> None:
    """A false normal is worse than no flag: the open side of "<10.5" is never open."""
    result = interpret(value, "K/uL", age=40, sex="F", lab_range=lab_range)
    assert result.reference is not None
    assert (result.reference.low, result.reference.high) == limits
    assert result.flag == flag
    assert any("the lab's range gives no" in w for w in result.warnings)


def test_a_one_sided_lab_range_with_no_table_range_flags_only_its_side() -> None:
    result = interpret("0.5", "K/uL", analyte="neutrophils", age=40, lab_range="<10.5",
                       table="documents")  # fmt: skip
    assert result.flag == "indeterminate"
    assert "within" not in result.summary


def test_no_warning_when_the_table_agrees() -> None:
    result = interpret("6.0", "K/uL", age=40, sex="F", lab_range="4.0-11.0")
    assert result.flag == "normal"
    assert not any("would give" in w for w in result.warnings)


def test_the_lab_lower_limit_is_the_ctcae_lln() -> None:
    # grade 1 is "<LLN to 1.5": with the lab's LLN of 2.0, 1.8 is grade 1
    result = interpret("1.8", "K/uL", analyte="neutrophils", age=40, lab_range="2.0-7.0")
    assert result.flag == "low"
    assert result.grade is not None and result.grade.grade == 1
    assert interpret("1.8", "K/uL", analyte="neutrophils", age=40).grade is None  # LLN 1.8


@pytest.mark.parametrize("bad", ["abc", "11-4", "-", "4.0-", "<", "1e400-2"])
def test_a_bad_lab_range_is_a_parse_error(bad: str) -> None:
    with pytest.raises(ParseError):
        interpret("4.2", "K/uL", age=40, lab_range=bad)


def test_wrong_types_and_units() -> None:
    with pytest.raises(TypeError, match="lab_range"):
        interpret("4.2", "K/uL", age=40, lab_range=5)  # type: ignore[arg-type]
    with pytest.raises(UnitError):
        interpret("4.2", "K/uL", age=40, lab_range="3.5-10.5 mg/dL")
