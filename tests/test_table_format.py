"""The general range model: decision limits, grades, percentages, any unit, ages in their own
unit, the first format still loading, extra data folders, and loud failures on broken files."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import itertools
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges import data
from cbc_ranges.analytes import analytes, get_analyte
from cbc_ranges.classify import below_threshold, in_region
from cbc_ranges.errors import CBCError, RangeTableError
from cbc_ranges.interpretation import interpret
from cbc_ranges.people import Age
from cbc_ranges.ranges import (
    COLUMNS,
    RangeTable,
    get_table,
    load_table,
    parse_table,
    shipped_sources,
    shipped_table_names,
)

HERE = Path(__file__).resolve().parent
HEADER = ",".join(COLUMNS)


def table_of(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "lab.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


ADULT = "adult,wbc,reference_interval,,,18,,years,any,any,4.0,10.0,10^9/L,wikipedia,lab range"

# --- the first format keeps loading with the same results ---------------------------------

LEGACY = HERE / "data" / "documents_v1.csv"
AGES: list[object] = [None, 0, "7 days", "6 months", 8, 17.999, 18, 40, 90]
SEXES = [None, "female", "male", "x"]
ETHNICITIES = [None, "Black", "Arab", "White"]


def _boundary_values(table: RangeTable) -> list[float]:
    values = {0.0}
    for row in table.rows:
        for limit in (row.low, row.high):
            if limit is not None:
                values.update((limit - 0.01, limit, limit + 0.01))
    return sorted(values)


def test_a_copy_of_the_first_format_gives_the_same_results_at_every_boundary() -> None:
    legacy, current = load_table(LEGACY), get_table("documents")
    assert [row.id for row in legacy.rows] == [row.id for row in current.rows]
    values = _boundary_values(current)
    censored = [f"{c}{v}" for c in ("<", "<=", ">", ">=") for v in values]
    offenders = []
    for age, sex, ethnicity in itertools.product(AGES, SEXES, ETHNICITIES):
        for value in [*values, *censored]:
            a = interpret(value, age=age, sex=sex, ethnicity=ethnicity, table=legacy)
            b = interpret(value, age=age, sex=sex, ethnicity=ethnicity, table=current)
            same = (a.flag, a.leukopenia, a.reference, a.leukopenia_threshold, a.text) == (
                b.flag,
                b.leukopenia,
                b.reference,
                b.leukopenia_threshold,
                b.text,
            )
            if not same:
                offenders.append((value, age, sex, ethnicity))
    assert offenders == []


def test_the_leukopenia_limit_keeps_the_strict_threshold_of_before() -> None:
    for value in (3.99, 4.0, 4.01):
        result = interpret(value, age=40, sex="female", table="documents")
        assert result.leukopenia is below_threshold(value, None, 4.0)
        assert result.leukopenia_threshold is not None
        assert (result.leukopenia_threshold.kind, result.leukopenia_threshold.low) == (
            "leukopenia_threshold",
            4.0,
        )
        assert [(limit.name, limit.beyond) for limit in result.limits] == [
            ("leukopenia", value < 4.0)
        ]


# --- decision limits, grades, percentages, units -----------------------------------------

GRADED = [
    ADULT,
    "neut-ref,neutrophils,reference_interval,,,18,,years,any,any,1.8,7.8,10^9/L,wikipedia,adult",
    "neutropenia,neutrophils,decision_limit,neutropenia,,18,,years,any,any,,1.5,10^9/L,wikipedia,x",
    "mild,neutrophils,decision_limit,neutropenia,mild,18,,years,any,any,1.0,1.5,10^9/L,wikipedia,x",
    "mod,neutrophils,decision_limit,neutropenia,moderate,18,,years,any,any,0.5,1.0,G/L,wikipedia,x",
    "sev,neutrophils,decision_limit,neutropenia,severe,18,,years,any,any,,500,cells/uL,wikipedia,x",
    "g1,neutrophils,grade,ctcae-v5.neutrophil-count-decreased,1,18,,years,any,any,1.5,LLN,10^9/L,wikipedia,x",
    "g2,neutrophils,grade,ctcae-v5.neutrophil-count-decreased,2,18,,years,any,any,1.0,1.5,10^9/L,wikipedia,x",
    "g3,neutrophils,grade,ctcae-v5.neutrophil-count-decreased,3,18,,years,any,any,0.5,1.0,10^9/L,wikipedia,x",
    "g4,neutrophils,grade,ctcae-v5.neutrophil-count-decreased,4,18,,years,any,any,,0.5,10^9/L,wikipedia,x",
    "pct,neutrophils,reference_interval,,,18,,years,any,any,40,75,%,wikipedia,percent",
    "wbc-g3,wbc,grade,ctcae-v5.leukocytosis,3,18,,years,any,any,100,,10^9/L,wikipedia,above 100",
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> RangeTable:
    return load_table(table_of(tmp_path_factory.mktemp("graded"), *GRADED))


@pytest.mark.parametrize(
    ("value", "flag", "severity", "grade"),
    [
        (2.0, "normal", None, None),
        (1.8, "normal", None, None),  # grade 1 runs from 1.5 up to the lower limit, 1.8
        (1.79, "low", None, 1),
        (1.5, "low", None, 1),
        (1.49, "low", "mild", 2),
        (1.0, "low", "mild", 2),
        (0.99, "low", "moderate", 3),
        (0.5, "low", "moderate", 3),
        (0.49, "low", "severe", 4),
        (0.0, "low", "severe", 4),
        (9.0, "high", None, None),
    ],
)
def test_several_decision_limits_and_grades_in_one_band(
    graded: RangeTable, value: float, flag: str, severity: str | None, grade: int | None
) -> None:
    result = interpret(value, "10^9/L", analyte="neutrophils", age=40, table=graded)
    assert result.analyte == "neutrophils"
    assert result.flag == flag
    beyond = {(limit.name, limit.level): limit.beyond for limit in result.limits}
    assert beyond[("neutropenia", "")] is (value < 1.5)
    levels = [level for (_, level), side in beyond.items() if level and side]
    assert levels == ([severity] if severity else [])
    assert (result.grade.grade if result.grade else None) == grade
    assert result.leukopenia is None  # leukopenia is the total count's limit
    assert "not a diagnosis" in result.text


def test_a_censored_value_straddling_a_limit_gets_no_side(graded: RangeTable) -> None:
    result = interpret("<1.2", analyte="neutrophils", age=40, table=graded)
    sides = {(limit.name, limit.level): limit.beyond for limit in result.limits}
    assert sides[("neutropenia", "")] is True
    assert sides[("neutropenia", "mild")] is None
    assert sides[("neutropenia", "severe")] is None
    assert result.grade is None


def test_a_grade_above_a_limit_is_strict(graded: RangeTable) -> None:
    assert interpret(100, age=40, table=graded).grade is None
    result = interpret(100.1, age=40, table=graded)
    assert result.grade is not None
    assert (result.grade.term, result.grade.grade) == ("Leukocytosis", 3)
    assert interpret(100.1, age=40, table=graded, grading=None).grade is None
    assert interpret(100.1, age=40, table=graded, grading="ctcae-v6").grade is None  # no v6 rows
    with pytest.raises(CBCError, match="did you mean 'ctcae-v5'"):
        interpret(100.1, age=40, table=graded, grading="ctcae-5")


def test_a_grade_that_needs_the_lower_limit_is_not_given_without_a_range(
    graded: RangeTable,
) -> None:
    result = interpret(1.7, analyte="neutrophils", age=8, table=graded)  # no child rows
    assert result.flag == "indeterminate"
    assert result.grade is None


def test_percentages_are_compared_with_percentage_ranges(graded: RangeTable) -> None:
    low = interpret("38", "%", analyte="NEUT%", age=40, table=graded)
    assert (low.flag, low.count.unit, low.reference.unit) == ("low", "%", "%")  # type: ignore[union-attr]
    assert "38.0 %" in low.text and "40.0" in low.text and "75.0 %" in low.text
    assert interpret("58 %", analyte="neutrophils", age=40, table=graded).flag == "normal"
    # a count is never compared with a percentage range, nor the other way round
    assert (
        interpret("58", "10^9/L", analyte="neutrophils", age=40, table=graded).reference.high == 7.8
    )  # type: ignore[union-attr]


def test_the_units_of_a_table_are_any_the_parser_reads(tmp_path: Path) -> None:
    spellings = ["G/L", "K/µL", "x10E3/uL", "10*9/L", "THOU/CUMM"]
    for spelling in spellings:
        path = table_of(tmp_path, ADULT.replace("10^9/L", spelling), name="units.csv")
        row = load_table(path).rows[0]
        assert (row.low, row.high) == (4.0, 10.0), spelling
    per_microlitre = table_of(tmp_path, ADULT.replace("4.0,10.0,10^9/L", "4500,11000,/mm3"))
    assert (load_table(per_microlitre).rows[0].low, load_table(per_microlitre).rows[0].high) == (
        4.5,
        11.0,
    )


# --- ages: band edges in their own unit ----------------------------------------------------


def _birth_for(edge_value: float, unit: str, on: dt.date) -> dt.date:
    """The birth date that makes someone exactly ``edge_value`` ``unit`` old on ``on``."""
    if unit in ("days", "weeks"):
        return on - dt.timedelta(days=round(edge_value * (7 if unit == "weeks" else 1)))
    months = round(edge_value * (12 if unit == "years" else 1))
    year, month0 = divmod(on.year * 12 + on.month - 1 - months, 12)
    # born on the 29th, 30th or 31st of a shorter month: the month's last day
    day = min(on.day, calendar.monthrange(year, month0 + 1)[1])
    return dt.date(year, month0 + 1, day)


def _edges(table: RangeTable) -> list[tuple[str, str, float, str]]:
    """(analyte, kind of value, edge value, edge unit) of every band edge of a table."""
    edges = set()
    for row in table.rows:
        for edge in (row.population.start, row.population.end):
            if edge is not None and edge.value:
                edges.add((row.analyte, row.value_kind, edge.value, edge.unit))
    return sorted(edges)


def _all_tables() -> list[RangeTable]:
    return [get_table(name) for name in shipped_table_names()] + [load_table(LEGACY)]


@pytest.mark.parametrize("on", [dt.date(2024, 6, 15), dt.date(2023, 3, 31), dt.date(2024, 2, 29)])
def test_a_spoken_age_and_its_birth_date_land_in_the_same_band_at_every_edge(
    on: dt.date,
) -> None:
    offenders = []
    for table in _all_tables():
        for analyte, kind, value, unit in _edges(table):
            spoken = Age.of(value, unit)
            birth = _birth_for(value, unit, on)
            dated = Age.between(birth, on)
            day_before = Age.between(birth, on - dt.timedelta(days=1))
            for sex in ("female", "male", "unknown"):
                on_rows = {"sex": sex, "analyte": analyte, "value_kind": kind}
                by_words = table.select(age=spoken, **on_rows)  # type: ignore[arg-type]
                by_dates = table.select(age=dated, **on_rows)  # type: ignore[arg-type]
                before = table.select(age=day_before, **on_rows)  # type: ignore[arg-type]
                if (by_words.reference, by_words.limits, by_words.grades) != (
                    by_dates.reference,
                    by_dates.limits,
                    by_dates.grades,
                ):
                    offenders.append((table.name, analyte, value, unit, sex, "at the edge"))
                exact = unit in ("days", "weeks") or birth.day == on.day  # not a clamped day
                same = (before.reference, before.limits, before.grades) == (
                    by_dates.reference,
                    by_dates.limits,
                    by_dates.grades,
                )
                if exact and same:
                    offenders.append((table.name, analyte, value, unit, sex, "a day before"))
    assert offenders == []


def test_a_week_old_child_gets_the_same_rows_as_7_days(tmp_path: Path) -> None:
    rows = [
        "newborn,wbc,reference_interval,,,0,1,months,any,any,9.1,30.1,10^9/L,wikipedia,birth",
        "infant,wbc,reference_interval,,,1,24,months,any,any,6.1,17.5,10^9/L,wikipedia,infant",
        "child,wbc,reference_interval,,,2,18,years,any,any,4.5,13.5,10^9/L,wikipedia,child",
    ]
    table = load_table(table_of(tmp_path, *rows))
    dated = Age.between(dt.date(2024, 1, 1), dt.date(2024, 1, 8))
    assert interpret(12, age=dated, table=table).reference.population.end.unit == "months"  # type: ignore[union-attr]
    for age in (dated, "7 days", "1 week", 7 / 365.25):
        result = interpret(12, age=age, table=table)  # type: ignore[arg-type]
        assert (result.flag, result.reference.low) == ("normal", 9.1), age  # type: ignore[union-attr]
        assert result.person.age == "7 days" or result.person.age == "1 week"
    assert interpret(12, age="1 month", table=table).reference.low == 6.1  # type: ignore[union-attr]
    born_31_jan = Age.between(dt.date(2024, 1, 31), dt.date(2024, 2, 29))
    assert interpret(12, age=born_31_jan, table=table).reference.low == 6.1  # type: ignore[union-attr]


# --- extra data folders: a new analyte with no code change ---------------------------------


def _extra_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "analytes.toml").write_text(
        """
[immature_granulocytes]
label = "Immature granulocytes"
noun = "immature granulocyte count"
kinds = ["count"]
loinc = ["53115-2"]
plausible = [0.0, 50.0]
headers = ["IG#", "Immature granulocytes"]
text_low = ["ig_low"]
text_high = ["ig_high"]
text_normal = ["meaning_normal"]
""",
        encoding="utf-8",
    )
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "my-lab"\ntitle = "Our ranges"\npublisher = "My lab"\n',
        encoding="utf-8",
    )
    (folder / "explanations.toml").write_text(
        '[block.ig_low]\nsources = ["my-lab"]\ntext = "A low result is common."\n'
        '[block.ig_high]\nsources = ["my-lab"]\ntext = "Ask the lab what a raised result means."\n',
        encoding="utf-8",
    )
    (folder / "mylab.csv").write_text(
        HEADER + "\nig,immature_granulocytes,reference_interval,,,18,,years,any,any,0,0.03,"
        "10^9/L,my-lab,our lab's range\n"
        + ADULT.replace("wikipedia", "my-lab")
        .replace("adult,", "wbc-adult,")
        .replace("4.0,10.0", "3.9,10.2")
        + "\n",
        encoding="utf-8",
    )
    return folder


def test_an_analyte_added_through_cbc_ranges_path_needs_no_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(_extra_folder(tmp_path)))
    data.clear_caches()
    try:
        assert "immature_granulocytes" in analytes()
        assert get_analyte("IG#").id == "immature_granulocytes"
        assert "mylab" in shipped_table_names()
        high = interpret(0.05, "K/uL", analyte="immature_granulocytes", age=40, table="mylab")
        assert (high.flag, high.reference.source.id) == ("high", "my-lab")  # type: ignore[union-attr]
        assert "Ask the lab" in high.text and "not a diagnosis" in high.text
        assert "my-lab" in [source.id for source in high.sources]
        assert interpret(3.95, age=40, table="mylab").flag == "normal"
        assert interpret(3.95, age=40).flag == "low"  # the shipped default is untouched
    finally:
        monkeypatch.delenv(data.ENVIRONMENT_VARIABLE)
        data.clear_caches()
    assert "immature_granulocytes" not in analytes()


def test_add_data_path_does_the_same_and_refuses_a_missing_folder(tmp_path: Path) -> None:
    folder = _extra_folder(tmp_path)
    try:
        data.add_data_path(folder)
        assert get_analyte("immature granulocytes").loinc == ("53115-2",)
    finally:
        data._ADDED.clear()
        data.clear_caches()
    with pytest.raises(RangeTableError, match="not a folder"):
        data.add_data_path(tmp_path / "nowhere")


def test_an_extra_analyte_naming_a_missing_block_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _extra_folder(tmp_path)
    (folder / "explanations.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(folder))
    data.clear_caches()
    try:
        with pytest.raises(RangeTableError, match="names the text block 'ig_low'"):
            interpret(0.05, analyte="immature_granulocytes", age=40, table="mylab")
    finally:
        monkeypatch.delenv(data.ENVIRONMENT_VARIABLE)
        data.clear_caches()


def test_clear_caches_rereads_an_edited_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _extra_folder(tmp_path)
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(folder))
    data.clear_caches()
    try:
        assert interpret(10.1, age=40, table="mylab").flag == "normal"
        table_file = folder / "mylab.csv"
        table_file.write_text(table_file.read_text().replace("3.9,10.2", "3.9,10.0"))
        assert interpret(10.1, age=40, table="mylab").flag == "normal"  # still cached
        data.clear_caches()
        assert interpret(10.1, age=40, table="mylab").flag == "high"
    finally:
        monkeypatch.delenv(data.ENVIRONMENT_VARIABLE)
        data.clear_caches()


# --- broken files fail loudly, naming file, line and field --------------------------------


@pytest.mark.parametrize(
    ("lines", "row", "field", "message"),
    [
        ([HEADER + ",high", ADULT + ",999"], 1, "high", "appears twice"),
        ([HEADER, ADULT.replace("lab range", '"lab range'), ADULT], 2, None, "never closed"),
        ([HEADER, ADULT.replace("lab range", "x" * 20_000)], 2, None, "longer than"),
        ([HEADER, ADULT.replace("4.0,10.0", "1e-400,10.0")], 2, "low", "too small"),
        ([HEADER, ADULT.replace("4.0,10.0", "4.0,1e400")], 2, "high", "finite"),
        ([HEADER, ADULT.replace("4.0,10.0", '4.0,"10"0')], 2, None, "not valid CSV"),
        ([HEADER, ADULT.replace("10^9/L", "mg/dL")], 2, "unit", "mass concentration"),
        ([HEADER, ADULT.replace("10^9/L", "%")], 2, "unit", "not given as a percentage"),
        (
            [HEADER, ADULT, ADULT.replace("adult,wbc,reference_interval", "g,wbc,grade")],
            3,
            "name",
            "needs a name",
        ),
        (
            [HEADER, ADULT, "g,wbc,grade,ctcae,7,18,,years,any,any,,1.0,10^9/L,wikipedia,x"],
            3,
            "level",
            "grade number",
        ),
        (
            [
                HEADER,
                ADULT,
                "a,wbc,decision_limit,low-count,,18,,years,any,any,,3,10^9/L,wikipedia,x",
                "b,wbc,decision_limit,low-count,,60,,years,female,any,,2,10^9/L,wikipedia,x",
            ],
            4,
            "age_from",
            "overlaps 'a'",
        ),
    ],
)
def test_a_broken_table_names_file_line_and_field(
    tmp_path: Path, lines: list[str], row: int, field: str | None, message: str
) -> None:
    path = tmp_path / "lab.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RangeTableError, match=message) as caught:
        load_table(path)
    assert (caught.value.path, caught.value.row, caught.value.field) == (str(path), row, field)
    assert len(str(caught.value)) < 500  # a huge field is never echoed whole


def test_the_last_copy_of_a_repeated_column_never_wins(tmp_path: Path) -> None:
    """The measured bug: a second `high` column of 999 gave 4.5-999."""
    path = table_of(tmp_path, ADULT + ",999", header=HEADER + ",high")
    with pytest.raises(RangeTableError):
        load_table(path)


def test_a_quoted_newline_in_a_note_loads_and_keeps_the_line_numbers(tmp_path: Path) -> None:
    two_lines = ADULT.replace("lab range", '"lab range,\nsecond line"')
    path = table_of(
        tmp_path, two_lines, ADULT.replace("adult,", "f,").replace(",any,any", ",female,any")
    )
    with pytest.raises(RangeTableError) as caught:  # the second row overlaps: on line 4
        load_table(path)
    assert caught.value.row == 4
    table = load_table(table_of(tmp_path, two_lines, name="one.csv"))
    assert table.rows[0].note == "lab range,\nsecond line"


def test_different_names_levels_and_populations_may_share_a_band(graded: RangeTable) -> None:
    assert sum(row.kind == "decision_limit" for row in graded.rows) == 4
    assert sum(row.kind == "grade" for row in graded.rows) == 5


@pytest.mark.parametrize("depth", [40, 5000])
def test_deeply_nested_toml_is_a_range_table_error(tmp_path: Path, depth: int) -> None:
    (tmp_path / "sources.toml").write_text(
        "x = " + "[" * depth + "]" * depth + "\n", encoding="utf-8"
    )
    path = table_of(tmp_path, ADULT)
    with pytest.raises(RangeTableError, match="nested"):
        load_table(path)


def test_adversarial_tables_load_or_fail_in_linear_time(tmp_path: Path) -> None:
    """Unclosed quotes and long runs of separators: bounded work, a clear error."""
    for body in ['"' + "a," * 50_000, ADULT + "," * 100_000, '"' * 100_001, "\n" * 200_000]:
        path = tmp_path / "adversarial.csv"
        path.write_text(HEADER + "\n" + body, encoding="utf-8")
        started = time.perf_counter()
        with pytest.raises(RangeTableError):
            load_table(path)
        assert time.perf_counter() - started < 2.0


@given(st.text(max_size=300))
def test_any_table_text_loads_or_raises_a_range_table_error(text: str) -> None:
    with contextlib.suppress(RangeTableError):
        parse_table(text, path="any.csv", name="any", sources=shipped_sources())


@given(
    value=st.floats(min_value=0, max_value=20, allow_nan=False),
    low=st.none() | st.floats(min_value=0, max_value=20),
    high=st.none() | st.floats(min_value=0, max_value=20),
    comparator=st.sampled_from(["<", "<=", ">", ">="]),
)
def test_a_censored_value_is_in_a_region_only_if_every_value_it_stands_for_is(
    value: float, low: float | None, high: float | None, comparator: str
) -> None:
    side = in_region(value, comparator, low, high)  # type: ignore[arg-type]
    if low is None and high is None:
        assert side is None
        return
    # sample values the censored result stands for
    steps = [value + d for d in (-1.0, -0.1, -1e-9, 0.0, 1e-9, 0.1, 1.0)]
    stands_for = [
        v
        for v in steps
        if {"<": v < value, "<=": v <= value, ">": v > value, ">=": v >= value}[comparator]
    ]
    exact = {in_region(v, None, low, high) for v in stands_for}
    if side is True:
        assert exact <= {True}
    if side is False:
        assert exact <= {False}


def test_unknown_analyte_is_a_cbc_error_with_a_suggestion() -> None:
    with pytest.raises(CBCError, match="did you mean 'lymphocytes'"):
        interpret(1.0, analyte="lymphocites")
    with pytest.raises(TypeError, match="analyte must be a text"):
        interpret(1.0, analyte=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="table must be"):
        interpret(1.0, table=5)  # type: ignore[arg-type]
