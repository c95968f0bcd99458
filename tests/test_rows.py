"""The row-level core: raw cells in, ``wbc_*`` cells out, the same answers as ``interpret``."""

from __future__ import annotations

import itertools
import math
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbc_ranges.classify import FLAG_ORDER
from cbc_ranges.errors import CBCError, UnitError
from cbc_ranges.interpretation import interpret
from cbc_ranges.rows import (
    CATEGORIES,
    EMPTY_CELLS,
    FLAG_INDEX,
    RESULT_COLUMNS,
    RowInterpreter,
    RowResult,
    format_number,
    plain_cell,
)


def cells_of(rows: RowInterpreter, *cells: str | None) -> tuple[str, ...]:
    """The result cells of raw text cells, as the batch command gets them."""
    return rows.lookup(*cells).cells


def result_of(rows: RowInterpreter, *cells: object) -> RowResult:
    """The typed result of cells of any type (numpy, NA, NaN), as the DataFrame face reads them."""
    value, unit, age, sex, ethnicity = (*map(plain_cell, cells), None, None, None, None)[:5]
    text = [None if cell is None else str(cell) for cell in (unit, sex, ethnicity)]
    parsed = rows.parse(value, text[0])
    return rows.combine(parsed, rows.person(age, text[1], text[2])).result


VALUES = [
    ("4.2", "K/uL"),
    ("3.99", "10^9/L"),
    ("4.0", "10^9/L"),
    ("4,500", "cells/µL"),
    ("11.0", "G/L"),
    ("11.01", "x10E3/uL"),
    ("12 x10^9/L", None),
    ("7.5", None),
    ("<1.0", "K/uL"),
    (">=12", "K/uL"),
    ("<4.5", "10^9/L"),
    ("<=4.5", "10^9/L"),
    ("abc", "K/uL"),
    ("", "K/uL"),
    ("4.2", "mg/dL"),
    ("4.2", "furlongs"),
    ("-3", "K/uL"),
]
PEOPLE = [
    (None, None, None),
    ("30", "F", None),
    ("30", "male", "White"),
    ("45", "Female", "Black or African American"),
    ("17", "M", None),
    ("18", "M", None),
    ("6 months", "f", "Middle Eastern"),
    ("2", None, None),
    ("70", "x", None),
    (None, "M", "Arab"),
    ("-3", "F", None),
    ("200", "F", None),
    ("old", "F", None),
]


def expected_cells(
    value: str, unit: str | None, age: str | None, sex: str | None, ethnicity: str | None
) -> tuple[str, ...]:
    """What interpret() says, written the way the batch columns say it."""
    if not value.strip():
        return (*EMPTY_CELLS[:-1], "no WBC value in this row")
    try:
        result = interpret(value, unit or None, age=age, sex=sex, ethnicity=ethnicity)
    except CBCError as error:
        return (*EMPTY_CELLS[:-1], " ".join(str(error).split()))
    reference = result.reference
    return (
        (result.count.comparator or "") + format_number(result.count.value),
        result.flag,
        result.code or "",
        "" if result.leukopenia is None else str(result.leukopenia).lower(),
        "" if reference is None or reference.low is None else format_number(reference.low),
        "" if reference is None or reference.high is None else format_number(reference.high),
        "" if reference is None else reference.source.id,
        result.severity or "",
        "" if result.grade is None else str(result.grade.grade),
        result.person.ethnicity or "",  # the table's group: the one that can change a result
        "; ".join(dict.fromkeys(result.warnings)),
        "",
    )


def test_result_columns_are_the_contract() -> None:
    assert RESULT_COLUMNS == (
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
    assert EMPTY_CELLS == ("",) * 12
    assert RESULT_COLUMNS[FLAG_INDEX] == "wbc_flag"


@pytest.fixture(scope="module")
def rows() -> RowInterpreter:
    return RowInterpreter()


@pytest.mark.parametrize(("value", "unit"), VALUES)
def test_every_value_agrees_with_interpret_for_every_person(
    rows: RowInterpreter, value: str, unit: str | None
) -> None:
    # person classes are shared between people: the answer must still be each person's own
    for person in PEOPLE:
        assert cells_of(rows, value, unit, *person) == expected_cells(value, unit, *person), person


def test_ages_across_every_band_agree_with_interpret() -> None:
    fresh = RowInterpreter(cache_size=64)  # small caches: misses and clears on the way
    ages = [str(a) for a in range(0, 101)] + ["0.5", "17.99", "3 weeks", "1 year 6 months"]
    for age, sex, value in itertools.product(ages, ["F", "M", "", "unknown"], ["4.4", "10.5"]):
        assert cells_of(fresh, value, "K/uL", age, sex, None) == expected_cells(
            value, "K/uL", age, sex, None
        ), (age, sex, value)


def test_a_row_that_cannot_be_read_has_an_empty_flag_and_one_line_error(
    rows: RowInterpreter,
) -> None:
    for value, unit in [("abc", None), ("4.2", "mg/dL"), ("4.2\nK/uL", "x\ny")]:
        cells = cells_of(rows, value, unit, "30", "F")
        assert cells[FLAG_INDEX] == "" and cells[-1]
        assert "\n" not in cells[-1]
    assert cells_of(rows, "4.2", "K/uL", "-3 years")[-1]  # a person that cannot be read


def test_censored_straddling_value_is_indeterminate_with_its_warning(rows: RowInterpreter) -> None:
    cells = cells_of(rows, "<=4.5", "10^9/L", "30", "F")
    assert cells[1:3] == ("indeterminate", "")
    assert "both sides" in cells[RESULT_COLUMNS.index("wbc_warnings")]


def test_decimal_separator_is_used_in_number_cells() -> None:
    cells = cells_of(
        RowInterpreter(decimal_comma=True, decimal_separator=","), "4,25", "G/L", "40", "F"
    )
    assert cells[0] == "4,25" and cells[4:6] == ("4,5", "11")


def test_default_unit_applies_to_bare_values_and_is_checked_once() -> None:
    assert cells_of(RowInterpreter(default_unit="cells/uL"), "4200", None, "30", "F")[0] == "4.2"
    with pytest.raises(UnitError):
        RowInterpreter(default_unit="mg/dL")


def test_typed_results_for_dataframe_cells() -> None:
    rows = RowInterpreter()
    numpy = pytest.importorskip("numpy")
    pandas = pytest.importorskip("pandas")
    assert result_of(rows, numpy.float64(3.2), "10^9/L", numpy.int64(40), "F").flag == "low"
    assert result_of(rows, 4.2, None, pandas.NA, None).warnings[0].startswith("no unit given")
    assert result_of(rows, float("nan")).error == "no WBC value in this row"
    assert result_of(rows, None, "K/uL").flag is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(None, None), (float("nan"), None), ("x", "x"), (3, 3), (2.5, 2.5), (True, "True")],
)
def test_plain_cell(cell: object, expected: object) -> None:
    assert plain_cell(cell) == expected


def test_plain_cell_of_other_types() -> None:
    assert plain_cell(Decimal("4.2")) == "4.2"
    pandas = pytest.importorskip("pandas")
    assert plain_cell(pandas.NA) is None and plain_cell(pandas.NaT) is None


@pytest.mark.parametrize(
    ("number", "text"),
    [(4.2, "4.2"), (4.300000000000001, "4.3"), (12.0, "12"), (0.0001234, "0.000123"), (-0.0, "0")],
)
def test_format_number(number: float, text: str) -> None:
    assert format_number(number) == text


def test_json_fields_keep_types_and_the_comparator() -> None:
    fields = RowResult(value=1.0, comparator="<", flag="low", leukopenia=True).json_fields()
    assert fields["wbc_value"] == "<1" and fields["wbc_leukopenia"] is True
    assert list(fields) == list(RESULT_COLUMNS)


def test_combine_and_outcome_agree(rows: RowInterpreter) -> None:
    for (value, unit), person in itertools.product(VALUES, PEOPLE):
        parsed, who = rows.parse(value, unit), rows.person(*person)
        entry, outcome = rows.combine(parsed, who), rows.outcome(parsed, who)
        assert entry.cells[1:] == outcome.tail == entry.tail
        assert entry.category == outcome.category
        assert CATEGORIES[entry.category] == (entry.cells[1] or "error")
        assert entry.result.cells() == entry.cells


def test_caches_stay_bounded() -> None:
    rows = RowInterpreter(cache_size=100)
    for n in range(1000):
        cells_of(rows, f"{n / 100:.2f}", "K/uL", str(n % 90), "F", f"group {n}")
    for cache in (rows._rows, rows._parses, rows._persons):
        assert len(cache) <= 100


def test_shared_between_threads_gives_the_same_cells() -> None:
    keys = list(itertools.product(["3.1", "4.5", "9.9", "12", "abc"], ["10", "30", "70"], "FM"))
    alone = {key: cells_of(RowInterpreter(), key[0], "K/uL", key[1], key[2]) for key in keys}
    shared = RowInterpreter(cache_size=8)
    failures: list[object] = []

    def work() -> None:
        for _ in range(20):
            for key in keys:
                if cells_of(shared, key[0], "K/uL", key[1], key[2]) != alone[key]:
                    failures.append(key)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


cell_text = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["4.2", "K/uL", "30"]))


@settings(max_examples=200, deadline=None)
@given(cell_text, cell_text, cell_text, cell_text, cell_text)
def test_any_cells_give_nine_one_line_strings(
    value: str | None, unit: str | None, age: str | None, sex: str | None, ethnicity: str | None
) -> None:
    cells = cells_of(RowInterpreter(), value, unit, age, sex, ethnicity)
    assert len(cells) == len(RESULT_COLUMNS) and all(isinstance(c, str) for c in cells)
    assert cells[FLAG_INDEX] in ("", "low", "normal", "high", "indeterminate")
    assert (cells[FLAG_INDEX] == "") == (cells[-1] != "")
    assert not any("\n" in c or "\r" in c for c in cells)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=0, max_value=60, allow_nan=False),
    st.floats(min_value=0, max_value=60, allow_nan=False),
    st.sampled_from(PEOPLE[:10]),
)
def test_a_higher_value_never_gets_a_lower_flag(
    a: float, b: float, person: tuple[str, ...]
) -> None:
    rows = RowInterpreter()
    low, high = sorted((a, b))
    first = cells_of(rows, repr(low), "10^9/L", *person)[FLAG_INDEX]
    second = cells_of(rows, repr(high), "10^9/L", *person)[FLAG_INDEX]
    if first in FLAG_ORDER and second in FLAG_ORDER:
        assert FLAG_ORDER[first] <= FLAG_ORDER[second]
    assert math.isfinite(float(cells_of(rows, repr(high), "10^9/L", *person)[0]))


def test_the_row_engine_carries_severity_grade_and_ancestry(tmp_path: Path) -> None:
    table = tmp_path / "diff.csv"
    table.write_text(
        "id,analyte,kind,name,level,age_from,age_unit,sex,population,low,high,unit,source\n"
        "ref,neutrophils,reference_interval,,,18,years,any,any,1.8,7.8,10^9/L,wikipedia\n"
        "n,neutrophils,decision_limit,neutropenia,,18,years,any,any,,1.5,10^9/L,wikipedia\n"
        "s,neutrophils,decision_limit,neutropenia,severe,18,years,any,any,,0.5,10^9/L,wikipedia\n"
        "g4,neutrophils,grade,ctcae-v5.neutrophil-count-decreased,4,18,years,any,any,,0.5,"
        "10^9/L,wikipedia\n"
        "af,neutrophils,ethnic_variation,,,0,years,any,african,,,10^9/L,wikipedia\n",
        encoding="utf-8",
    )
    rows = RowInterpreter(str(table), analyte="neutrophils")
    cells = dict(
        zip(RESULT_COLUMNS, cells_of(rows, "0.3", "K/uL", "40", "F", "Black"), strict=True)
    )
    assert (cells["wbc_flag"], cells["wbc_severity"], cells["wbc_grade"]) == ("low", "severe", "4")
    assert cells["wbc_ancestry"] == "african"
    plain = dict(zip(RESULT_COLUMNS, cells_of(rows, "1.4", "K/uL", "40", "F", None), strict=True))
    assert (plain["wbc_severity"], plain["wbc_grade"], plain["wbc_ancestry"]) == ("", "", "")
    result = interpret("0.3", "K/uL", analyte="neutrophils", age=40, sex="F", ethnicity="Black",
                       table=str(table))  # fmt: skip
    assert (result.severity, result.grade and result.grade.grade) == ("severe", 4)
    assert result.person.ethnicity_group == "african"


def test_a_rows_own_reference_range_is_used_as_interpret_uses_it() -> None:
    rows = RowInterpreter()
    for lab_range, disagrees in (("3.5-10.5", True), ("3500-10500 /uL", True), ("<10.5", False)):
        entry = rows.lookup("4.2", "K/uL", "40", "M", None, lab_range)
        expected = interpret("4.2", "K/uL", age="40", sex="M", lab_range=lab_range)
        cells = dict(zip(RESULT_COLUMNS, entry.cells, strict=True))
        assert cells["wbc_flag"] == expected.flag
        assert expected.reference is not None
        assert cells["wbc_ref_low"] == format_number(expected.reference.low or 0.0)
        assert cells["wbc_source"] == "reporting-laboratory"
        assert ("would give low" in cells["wbc_warnings"]) is disagrees
    entry = rows.lookup("4.2", "K/uL", "40", "M", None, "n/a?")
    warnings = entry.cells[RESULT_COLUMNS.index("wbc_warnings")]
    assert entry.result.flag == "low" and "range was not read" in warnings
    blank = rows.lookup("4.2", "K/uL", "40", "M", None, " ")
    assert blank.cells == rows.lookup("4.2", "K/uL", "40", "M").cells
