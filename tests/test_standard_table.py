"""The tables `standard` and `duffy-null`: every cited figure, its source, its band edges.

The expected rows below are written from the project's references (sections 1 to 6 of
/work/shared/references/README.md) and the seed documents, independently of the CSV files:
a figure typed wrongly in either place shows up as an offender.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

import pytest

from cbc_ranges.interpretation import interpret
from cbc_ranges.models import Sex
from cbc_ranges.people import Age
from cbc_ranges.ranges import RangeRow, RangeTable, get_table, grading_systems, split_grade_name

# (analyte, kind, name, level, age_from, age_to, age_unit, sex, population, low, high, unit, source)
Expected = tuple[
    str, str, str, str, float, float | None, str, str, str, float | str | None,
    float | str | None, str, str,
]  # fmt: skip

# Davis's four bands, as the library reads their edges
Band = tuple[float, float | None, str]
ADULT: Band = (18.0, None, "years")
DAVIS_BANDS: list[Band] = [
    (0.0, 1.0, "months"),
    (1.0, 24.0, "months"),
    (2.0, 11.0, "years"),
    (11.0, 18.0, "years"),
]
DAVIS_PERCENT_BANDS: list[Band] = [
    *DAVIS_BANDS[:3],
    (11.0, None, "years"),
]  # "11 years-older adult"
G = "10^9/L"

# references section 1: Davis's handbook, counts x10^9/L and (percentages), per band
DAVIS_COUNTS: dict[str, list[tuple[float, float]]] = {
    "wbc": [(9.1, 30.1), (6.1, 17.5), (4.5, 13.5), (4.5, 11.1)],
    "neutrophils": [(5.5, 18.3), (1.9, 5.4), (2.4, 7.3), (2.7, 6.5)],
    "lymphocytes": [(2.8, 9.3), (3.7, 10.7), (1.7, 5.1), (1.5, 3.7)],
    "monocytes": [(0.5, 1.7), (0.3, 0.8), (0.2, 0.6), (0.2, 0.4)],
    "eosinophils": [(0.02, 0.7), (0.2, 0.5), (0.1, 0.3), (0.05, 0.5)],
    "basophils": [(0.1, 0.2), (0.0, 0.1), (0.0, 0.1), (0.0, 0.1)],
}
DAVIS_PERCENTAGES: dict[str, list[tuple[float, float]]] = {
    "neutrophils": [(24, 58), (21, 67), (30, 77), (40, 75)],
    "lymphocytes": [(26, 56), (20, 64), (14, 50), (12, 44)],
    "monocytes": [(7, 13), (4, 11), (4, 9), (4, 9)],
    "eosinophils": [(0, 8), (0, 3.3), (0, 5.8), (0, 5.5)],
    "basophils": [(0, 2.5), (0, 1), (0, 1), (0, 1)],
}
# references section 2: Henry's via Labcorp, adults, x10^9/L
HENRY = {
    "neutrophils": (1.8, 7.8),
    "lymphocytes": (1.0, 4.8),
    "monocytes": (0.0, 0.80),
    "eosinophils": (0.0, 0.45),
    "basophils": (0.0, 0.20),
}
# references section 4: CTCAE, (grade, low, high) per term
GradeBands = dict[tuple[str, str], list[tuple[int, float | None, float | str | None]]]
CTCAE_V5: GradeBands = {
    ("wbc", "wbc-decreased"): [(1, 3.0, "LLN"), (2, 2.0, 3.0), (3, 1.0, 2.0), (4, None, 1.0)],
    ("neutrophils", "neutrophil-count-decreased"): [
        (1, 1.5, "LLN"), (2, 1.0, 1.5), (3, 0.5, 1.0), (4, None, 0.5),
    ],
    ("lymphocytes", "lymphocyte-count-decreased"): [
        (1, 0.8, "LLN"), (2, 0.5, 0.8), (3, 0.2, 0.5), (4, None, 0.2),
    ],
    ("wbc", "leukocytosis"): [(3, 100.0, None)],
}  # fmt: skip
CTCAE_V6: GradeBands = {
    ("wbc", "wbc-decreased"): CTCAE_V5[("wbc", "wbc-decreased")],
    ("neutrophils", "neutrophil-count-decreased"): [
        (1, 1.0, 1.5), (2, 0.5, 1.0), (3, 0.1, 0.5), (4, None, 0.1),
    ],
    ("wbc", "leukocytosis"): CTCAE_V5[("wbc", "leukocytosis")],
}  # fmt: skip
# references section 5: Hibbs 2025, (wbc, neutrophils) per cohort population
HIBBS = {
    "duffy_null": ((3.00, 9.66), (1.21, 5.39)),
    "duffy_null_uk": ((3.1, 8.8), (1.185, 5.462)),
    "duffy_null_saudi": ((3.72, 10.71), (1.14, 5.29)),
    "duffy_null_namibia": ((2.51, 9.85), (0.82, 6.37)),
}


def _row(
    analyte: str,
    kind: str,
    band: Band,
    low: float | str | None,
    high: float | str | None,
    source: str,
    *,
    name: str = "",
    level: str = "",
    sex: str = "any",
    population: str = "any",
    unit: str = G,
) -> Expected:
    return (analyte, kind, name, level, *band, sex, population, low, high, unit, source)


def _seed_adult_rows() -> list[Expected]:
    """The seed documents' adult rows (documents.csv), in 10^9/L."""
    interval = "reference_interval"
    return [
        _row("wbc", interval, ADULT, 5.0, 10.0, "cleveland-2022", sex="male"),
        _row("wbc", interval, ADULT, 4.5, 11.0, "cleveland-2022", sex="female"),
        _row("wbc", interval, ADULT, 4.5, 10.0, "healthy-living", sex="unknown"),
    ]


def _expected_standard() -> list[Expected]:
    rows = _seed_adult_rows()
    limit, interval, variation = "decision_limit", "reference_interval", "ethnic_variation"
    everyone = (0.0, None, "years")
    rows += [
        _row("wbc", limit, ADULT, None, 4.0, "cleveland-2022", name="leukopenia"),
        _row("wbc", limit, (0.0, 18.0, "years"), None, None, "healthy-living", name="leukopenia"),
        _row("wbc", variation, everyone, None, None, "symptoms-and-causes", population="african"),
        _row(
            "wbc", variation, everyone, None, None, "symptoms-and-causes",
            population="middle_eastern",
        ),
    ]  # fmt: skip
    for analyte, figures in DAVIS_COUNTS.items():
        for band, (low, high) in zip(DAVIS_BANDS, figures, strict=True):
            rows.append(_row(analyte, interval, band, low, high, "davis-handbook"))
    for analyte, percentages in DAVIS_PERCENTAGES.items():
        for band, (low, high) in zip(DAVIS_PERCENT_BANDS, percentages, strict=True):
            rows.append(
                _row(analyte, interval, band, float(low), float(high), "davis-handbook", unit="%")
            )
    for analyte, (low, high) in HENRY.items():
        rows.append(_row(analyte, interval, ADULT, low, high, "labcorp-henry"))
    # references section 3: from 1 year, the library's reading
    from_one = (1.0, None, "years")
    neutropenia = {"name": "neutropenia"}
    rows += [
        _row("neutrophils", limit, from_one, None, 1.5, "hsieh-2007", **neutropenia),
        _row("neutrophils", limit, from_one, 1.0, 1.5, "taplitz-2018", **neutropenia, level="mild"),
        _row(
            "neutrophils", limit, from_one, 0.5, 1.0, "taplitz-2018", **neutropenia,
            level="moderate",
        ),
        _row(
            "neutrophils", limit, from_one, None, 0.5, "taplitz-2018", **neutropenia,
            level="severe",
        ),
        # references section 6
        _row("wbc", limit, ADULT, 11.0, None, "riley-2015", name="leukocytosis"),
    ]  # fmt: skip
    for system, grades in (("ctcae-v5", CTCAE_V5), ("ctcae-v6", CTCAE_V6)):
        for (analyte, term), bands in grades.items():
            for grade, grade_low, grade_high in bands:
                rows.append(
                    _row(
                        analyte, "grade", ADULT, grade_low, grade_high, system,
                        name=f"{system}.{term}", level=str(grade),
                    )
                )  # fmt: skip
    rows += _duffy_null_rows("duffy_null")
    return rows


def _duffy_null_rows(population: str) -> list[Expected]:
    (wbc_low, wbc_high), (anc_low, anc_high) = HIBBS[population]
    interval = "reference_interval"
    return [
        _row("wbc", interval, ADULT, wbc_low, wbc_high, "hibbs-2025", population=population),
        _row(
            "neutrophils", interval, ADULT, anc_low, anc_high, "hibbs-2025", population=population
        ),
    ]


def _expected_duffy_null() -> list[Expected]:
    rows = _seed_adult_rows()
    rows.append(
        _row("neutrophils", "reference_interval", ADULT, *HENRY["neutrophils"], "labcorp-henry")
    )
    for population in HIBBS:
        rows += _duffy_null_rows(population)
    return rows


def _encoded(row: RangeRow) -> Expected:
    people = row.population
    start, end = people.start, people.end
    assert start is not None
    low = row.low_reference or (None if row.low is None else round(row.low, 6))
    high = row.high_reference or (None if row.high is None else round(row.high, 6))
    return (
        row.analyte, row.kind, row.name, row.level, start.value,
        None if end is None else end.value, start.unit, people.sex, people.ethnicity, low, high,
        "%" if row.value_kind == "percent" else G, row.source.id,
    )  # fmt: skip


def _rounded(row: Expected) -> Expected:
    *head, low, high, unit, source = row
    low = round(low, 6) if isinstance(low, float) else low
    high = round(high, 6) if isinstance(high, float) else high
    return (*head, low, high, unit, source)  # type: ignore[return-value]


TABLES = {"standard": _expected_standard, "duffy-null": _expected_duffy_null}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_cited_figure_is_encoded_with_its_source_and_nothing_else(name: str) -> None:
    expected = [_rounded(row) for row in TABLES[name]()]
    loaded = [_encoded(row) for row in get_table(name).rows]
    assert len(expected) == len(set(expected))
    missing = [row for row in expected if row not in loaded]
    unexpected = [row for row in loaded if row not in expected]
    assert missing == []
    assert unexpected == []


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_row_has_a_note_every_reading_is_labelled_and_every_source_exists(
    name: str,
) -> None:
    table = get_table(name)
    offenders = []
    for row in table.rows:
        note = row.note
        if not note.strip():
            offenders.append((row.id, "no note"))
        if row.source.id not in table.sources or table.sources[row.source.id] != row.source:
            offenders.append((row.id, "unknown source"))
        # an edge the source does not state is the library's reading, and says so
        people = row.population
        reads_an_age = people.start is not None and (
            (people.start.value, people.start.unit) in {(18.0, "years"), (1.0, "years")}
            or people.end is not None
        )
        if row.kind != "ethnic_variation" and reads_an_age and "library's reading" not in note:
            offenders.append((row.id, "a reading without the words 'the library's reading'"))
        if "reading" in note and "the library's reading" not in note:
            offenders.append((row.id, "a reading not labelled as the library's"))
    assert offenders == []


def test_the_grading_systems_name_every_term_the_grade_rows_use() -> None:
    systems = grading_systems()
    offenders = []
    for row in get_table("standard").rows:
        if row.kind == "grade":
            system, term = split_grade_name(row.name)
            known = system in systems and term in systems[system].terms
            if not known or systems[system].source != row.source.id:
                offenders.append(row.id)
    assert offenders == []
    assert systems["ctcae-v5"].label == "CTCAE v5.0"
    assert systems["ctcae-v6"].label == "CTCAE v6.0"
    assert "lymphocyte-count-decreased" not in systems["ctcae-v6"].terms  # not graded in v6.0


# --- band edges: the row applies from its first day to the day before its end --------------


def _birth_for(edge_value: float, unit: str, on: dt.date) -> dt.date:
    """The birth date that makes someone exactly ``edge_value`` ``unit`` old on ``on``."""
    if unit in ("days", "weeks"):
        return on - dt.timedelta(days=round(edge_value * (7 if unit == "weeks" else 1)))
    months = round(edge_value * (12 if unit == "years" else 1))
    year, month0 = divmod(on.year * 12 + on.month - 1 - months, 12)
    return dt.date(year, month0 + 1, min(on.day, calendar.monthrange(year, month0 + 1)[1]))


ON = dt.date(2024, 6, 15)


def _sexes(row: RangeRow) -> list[Sex]:
    sex = row.population.sex
    return ["female", "male", "unknown"] if sex == "any" else [sex]


def _selected(table: RangeTable, row: RangeRow, age: Age, sex: Sex) -> Iterator[RangeRow]:
    group = row.population.ethnicity
    ancestry = group if group in ("african", "middle_eastern") else None
    populations = () if group in ("any", ancestry) else (group,)
    selection = table.select(
        age=age,
        sex=sex,
        analyte=row.analyte,
        value_kind=row.value_kind,
        ethnicity=ancestry,
        populations=populations,
    )
    for found in (selection.reference, *selection.limits, *selection.grades, selection.variation):
        if found is not None:
            yield found


def _edge_cases(table: RangeTable) -> Iterator[tuple[str, RangeRow]]:
    for row in table.rows:
        yield table.name, row


@pytest.mark.parametrize(
    ("name", "row"),
    [case for name in sorted(TABLES) for case in _edge_cases(get_table(name))],
    ids=lambda value: value if isinstance(value, str) else value.id,
)
def test_a_row_applies_at_its_first_edge_and_until_the_day_before_its_last(
    name: str, row: RangeRow
) -> None:
    table = get_table(name)
    start, end = row.population.start, row.population.end
    assert start is not None
    for sex in _sexes(row):
        at_start = Age.of(start.value, start.unit) if start.value else Age.of(0, "days")
        assert row in _selected(table, row, at_start, sex), (row.id, sex, "at the first edge")
        if start.value:
            birth = _birth_for(start.value, start.unit, ON)
            assert row in _selected(table, row, Age.between(birth, ON), sex)
            day_before = Age.between(birth, ON - dt.timedelta(days=1))
            assert row not in _selected(table, row, day_before, sex), (row.id, "a day before")
        if end is not None:
            assert row not in _selected(table, row, Age.of(end.value, end.unit), sex)
            birth = _birth_for(end.value, end.unit, ON)
            assert row not in _selected(table, row, Age.between(birth, ON), sex)
            last_day = Age.between(birth, ON - dt.timedelta(days=1))
            assert row in _selected(table, row, last_day, sex), (row.id, "the last day")


# --- values at the limits, through interpret() ----------------------------------------------


def _age_in(row: RangeRow) -> Age:
    start = row.population.start
    assert start is not None
    return Age.of(start.value, start.unit) if start.value else Age.of(10, "days")


def _value_unit(row: RangeRow) -> str:
    return "%" if row.value_kind == "percent" else G


REFERENCE_ROWS = [
    row
    for row in get_table("standard").rows
    if row.kind == "reference_interval" and row.population.ethnicity == "any"
]


@pytest.mark.parametrize("row", REFERENCE_ROWS, ids=lambda row: row.id)
def test_reference_intervals_include_both_limits(row: RangeRow) -> None:
    assert row.low is not None and row.high is not None
    cases = [(row.low, "normal"), (row.high, "normal"), (row.high + 0.01, "high")]
    if row.low >= 0.01:
        cases.append((row.low - 0.01, "low"))
    for sex in _sexes(row):
        for value, flag in cases:
            result = interpret(
                round(value, 6),
                _value_unit(row),
                analyte=row.analyte,
                age=_age_in(row),
                sex=sex,
                table="standard",
            )
            assert result.reference is not None and result.reference.low == row.low
            assert result.flag == flag, (row.id, sex, value)


@pytest.mark.parametrize(
    ("population", "analyte", "low", "high"),
    [
        ("duffy_null", analyte, *figures)
        for analyte, figures in zip(("wbc", "neutrophils"), HIBBS["duffy_null"], strict=True)
    ],
)
def test_the_duffy_null_interval_replaces_the_any_rows_for_a_duffy_null_adult(
    population: str, analyte: str, low: float, high: float
) -> None:
    for value, flag in (
        (low - 0.01, "low"),
        (low, "normal"),
        (high, "normal"),
        (high + 0.01, "high"),
    ):
        for sex in ("female", "male", None):
            result = interpret(
                round(value, 6), G, analyte=analyte, age=40, sex=sex, duffy="null", table="standard"
            )
            assert result.reference is not None and result.reference.low == low
            assert result.flag == flag, (analyte, sex, value)


@pytest.mark.parametrize("population", sorted(HIBBS))
def test_each_cohort_of_the_duffy_null_table_is_selected_by_its_population(
    population: str,
) -> None:
    table = get_table("duffy-null")
    for analyte, (low, high) in zip(("wbc", "neutrophils"), HIBBS[population], strict=True):
        chosen = table.select(
            age=Age.of(40, "years"), sex="female", analyte=analyte, populations=(population,)
        ).reference
        assert chosen is not None and (chosen.low, chosen.high) == (low, high)
        assert chosen.population.ethnicity == population and "cohort" in chosen.note


def _limit_cases(row: RangeRow) -> list[tuple[float, bool]]:
    """(value, beyond) at each limit of a decision limit: strict alone, [low, high) as a band."""
    low, high = row.low, row.high
    if low is not None and high is not None:
        return [(low - 0.01, False), (low, True), (high - 0.01, True), (high, False)]
    if high is not None:
        return [(high - 0.01, True), (high, False)]
    assert low is not None
    return [(low, False), (low + 0.01, True)]


LIMIT_ROWS = [
    row
    for row in get_table("standard").rows
    if row.kind == "decision_limit" and (row.low is not None or row.high is not None)
]


@pytest.mark.parametrize("row", LIMIT_ROWS, ids=lambda row: row.id)
def test_decision_limits_are_strict_alone_and_include_the_low_end_of_a_band(row: RangeRow) -> None:
    for value, beyond in _limit_cases(row):
        result = interpret(
            round(value, 6),
            G,
            analyte=row.analyte,
            age=_age_in(row),
            sex="female",
            table="standard",
        )
        found = [
            limit for limit in result.limits if (limit.name, limit.level) == (row.name, row.level)
        ]
        assert len(found) == 1, row.id
        assert found[0].beyond is beyond, (row.id, value)


def test_neutropenia_applies_from_one_year_and_not_to_infants() -> None:
    infant = interpret(0.4, G, analyte="neutrophils", age="11 months", table="standard")
    assert [limit.name for limit in infant.limits] == []
    child = interpret(0.4, G, analyte="neutrophils", age="1 year", table="standard")
    assert {(limit.level, limit.beyond) for limit in child.limits} == {
        ("", True), ("mild", False), ("moderate", False), ("severe", True),
    }  # fmt: skip


def test_the_leukopenia_limit_of_the_seed_documents_is_kept() -> None:
    adult = interpret(3.99, G, age=40, sex="male", table="standard")
    assert adult.leukopenia is True and adult.leukopenia_threshold is not None
    assert interpret(4.0, G, age=40, sex="male", table="standard").leukopenia is False
    assert interpret(3.0, G, age="8 years", table="standard").leukopenia is None  # no figure


GRADE_ROWS = [row for row in get_table("standard").rows if row.kind == "grade"]


@pytest.mark.parametrize("row", GRADE_ROWS, ids=lambda row: row.id)
def test_grade_bands_include_their_low_end_and_exclude_their_high_end(row: RangeRow) -> None:
    system, _ = split_grade_name(row.name)
    level = int(row.level)

    def grade_of(value: float) -> int | None:
        result = interpret(
            round(value, 6),
            G,
            analyte=row.analyte,
            age=40,
            sex="female",
            table="standard",
            grading=system,
        )
        return None if result.grade is None else result.grade.grade

    low, high = row.low, row.high
    if row.high_reference == "LLN":
        reference = interpret(1.0, G, analyte=row.analyte, age=40, sex="female", table="standard")
        assert reference.reference is not None
        high = reference.reference.low  # "<LLN": below the reference interval's low limit
    if low is not None and high is not None:
        assert grade_of(low) == level and grade_of(high - 0.01) == level
        assert grade_of(high) != level and grade_of(low - 0.01) != level
    elif high is not None:
        assert grade_of(high - 0.01) == level and grade_of(high) != level
    else:
        assert low is not None
        assert grade_of(low + 0.01) == level and grade_of(low) != level


def test_ctcae_readings_of_the_references() -> None:
    """ "<3.0-2.0" is below 3.0 and at least 2.0; "<LLN-3.0" runs from 3.0 up to the LLN."""

    def grade(value: float, analyte: str = "wbc", grading: str = "ctcae-v5") -> int | None:
        found = interpret(
            value, G, analyte=analyte, age=40, sex="female", table="standard", grading=grading
        ).grade
        return None if found is None else found.grade

    assert [grade(v) for v in (4.5, 4.49, 3.0, 2.99, 2.0, 1.99, 1.0, 0.99)] == [
        None, 1, 1, 2, 2, 3, 3, 4,
    ]  # fmt: skip
    assert [grade(v) for v in (100.0, 100.01)] == [None, 3]
    # neutrophils: v5 grade 1 from the LLN (Henry's 1.8), v6 from 1.5
    assert [grade(v, "neutrophils") for v in (1.8, 1.79, 1.5, 1.49, 0.5, 0.49)] == [
        None, 1, 1, 2, 3, 4,
    ]  # fmt: skip
    assert [grade(v, "neutrophils", "ctcae-v6") for v in (1.79, 1.5, 1.49, 0.1, 0.09)] == [
        None, None, 1, 3, 4,
    ]  # fmt: skip
    assert grade(0.7, "lymphocytes", "ctcae-v6") is None  # not graded in v6.0
    assert grade(0.7, "lymphocytes") == 2
