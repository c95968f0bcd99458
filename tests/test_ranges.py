"""Range tables: the shipped data, its provenance, and loud failures on a bad table."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges import data, ranges
from cbc_ranges.errors import CBCError, RangeTableError
from cbc_ranges.models import Sex
from cbc_ranges.ranges import (
    COLUMNS,
    RangeRow,
    RangeTable,
    get_table,
    load_table,
    render_markdown,
    render_pages,
    shipped_sources,
    shipped_table_names,
)

ROOT = Path(__file__).resolve().parents[1]
HEADER = ",".join(COLUMNS)
SEXES: tuple[Sex, ...] = ("female", "male", "unknown")

# the five seed documents, by the titles the project cites them by, in order
SEED_TITLES = [
    "Low White Blood Cell Count (Leukopenia) Symptoms and Causes",
    "Low White Blood Cell Count (Leukopenia): Causes, Symptoms & Treatment",
    "Leukopenia: Symptoms, Causes, and Treatment",
    "What causes leukopenia (low White Blood Cell count)?",
    "Leukopenia",
]


@pytest.fixture(scope="module")
def table() -> RangeTable:
    return get_table("documents")


def rows_of(table: RangeTable, kind: str) -> list[RangeRow]:
    return [row for row in table.rows if row.kind == kind]


# --- provenance -----------------------------------------------------------------------------


def test_the_five_seed_documents_come_first_cited_by_title() -> None:
    sources = list(shipped_sources().values())
    assert [source.title for source in sources[:5]] == SEED_TITLES
    assert all(source.kind == "seed" for source in sources[:5])
    # dates only where the document states one
    assert {s.id: s.date for s in sources[:5] if s.date} == {
        "cleveland-2022": "2022-10-27",
        "dr-oracle-2025": "2025-05-21",
    }


def test_no_source_is_cited_by_file_name() -> None:
    offenders = [
        source.id
        for source in shipped_sources().values()
        if ".txt" in source.title or ".txt" in source.publisher
    ]
    assert offenders == []


def test_every_row_cites_a_known_source(table: RangeTable) -> None:
    known = shipped_sources()
    offenders = [row.id for row in table.rows if known.get(row.source.id) != row.source]
    assert offenders == []


def test_every_row_has_a_note(table: RangeTable) -> None:
    offenders = [row.id for row in table.rows if len(row.note) < 20]
    assert offenders == []


def test_no_two_rows_of_a_kind_cover_the_same_people(table: RangeTable) -> None:
    offenders = [
        (a.id, b.id)
        for index, a in enumerate(table.rows)
        for b in table.rows[index + 1 :]
        if ranges._overlap(a, b)
    ]
    assert offenders == []


# every statement in the seeds' table of numbers, as a test of the rows (10^9/L)
SEED_STATEMENTS = {
    "adults: below 4,000 cells/uL is leukopenia": lambda r: (
        (r.kind, r.name) == ("decision_limit", "leukopenia")
        and (r.low, r.high) == (None, 4.0)
        and r.population.age_from == 18
        and r.population.age_to is None
    ),
    "children: the threshold varies, no number": lambda r: (
        (r.kind, r.name) == ("decision_limit", "leukopenia")
        and (r.low, r.high) == (None, None)
        and r.population.age_to == 18
    ),
    "typical range, no sex given: 4,500-10,000": lambda r: (
        r.kind == "reference_interval"
        and (r.low, r.high) == (4.5, 10.0)
        and r.population.sex == "unknown"
        and r.source.id == "healthy-living"
    ),
    "typical range, males: 5,000-10,000": lambda r: (
        r.kind == "reference_interval"
        and (r.low, r.high) == (5.0, 10.0)
        and r.population.sex == "male"
        and r.population.age_from == 18
    ),
    "typical range, children: 5,000-10,000": lambda r: (
        r.kind == "reference_interval"
        and (r.low, r.high) == (5.0, 10.0)
        and r.population.age_to == 18
        and r.population.sex == "any"
    ),
    "typical range, females: 4,500-11,000": lambda r: (
        r.kind == "reference_interval"
        and (r.low, r.high) == (4.5, 11.0)
        and r.population.sex == "female"
    ),
    "African ethnicity: lower counts can be normal": lambda r: (
        r.kind == "ethnic_variation" and r.population.ethnicity == "african"
    ),
    "Middle Eastern ethnicity: lower counts can be normal": lambda r: (
        r.kind == "ethnic_variation" and r.population.ethnicity == "middle_eastern"
    ),
}


def test_every_seed_statement_is_encoded_by_a_row(table: RangeTable) -> None:
    offenders = [
        statement
        for statement, encodes in SEED_STATEMENTS.items()
        if not any(encodes(row) for row in table.rows)
    ]
    assert offenders == []


def test_every_row_encodes_a_seed_statement(table: RangeTable) -> None:
    """Exactly the statements of the seeds: no row the documents do not back."""
    offenders = [
        row.id for row in table.rows if not any(ok(row) for ok in SEED_STATEMENTS.values())
    ]
    assert offenders == []


# --- coverage of the default table ----------------------------------------------------------


@given(age=st.floats(min_value=0, max_value=150), sex=st.sampled_from(SEXES))
def test_every_age_and_sex_maps_to_exactly_one_reference_row(age: float, sex: Sex) -> None:
    table = get_table("documents")
    matching = [r for r in rows_of(table, "reference_interval") if r.applies_to(age, sex)]
    assert len(matching) == 1
    assert table.select(age_years=age, sex=sex).reference is matching[0]


@given(age=st.floats(min_value=0, max_value=150), sex=st.sampled_from(SEXES))
def test_every_age_and_sex_maps_to_exactly_one_threshold_row(age: float, sex: Sex) -> None:
    table = get_table("documents")
    matching = [r for r in rows_of(table, "decision_limit") if r.applies_to(age, sex)]
    assert [r.name for r in matching] == ["leukopenia"]
    assert (matching[0].high is None) == (age < 18)


@pytest.mark.parametrize(
    ("age", "sex", "row_id"),
    [
        (18.0, "female", "adult-female"),
        (17.999, "female", "child"),
        (0.0, "male", "child"),
        (18.0, "male", "adult-male"),
        (99.0, "unknown", "adult-sex-unknown"),
        (None, "unknown", "adult-sex-unknown"),  # unknown age: adult rules
        (None, "female", "adult-female"),
    ],
)
def test_the_age_band_edges(age: float | None, sex: Sex, row_id: str) -> None:
    reference = get_table("documents").select(age_years=age, sex=sex).reference
    assert reference is not None
    assert reference.id == row_id


def test_limits_are_converted_from_cells_per_microlitre(table: RangeTable) -> None:
    by_id = {row.id: row for row in table.rows}
    assert (by_id["adult-female"].low, by_id["adult-female"].high) == (4.5, 11.0)
    assert by_id["adult-leukopenia"].high == 4.0
    reference = by_id["adult-male"].reference
    assert reference is not None
    assert (reference.low, reference.high, reference.source.id) == (5.0, 10.0, "cleveland-2022")


def test_ethnicity_groups_are_read_from_the_table(table: RangeTable) -> None:
    assert set(table.groups) == {"african", "middle_eastern"}
    assert "black" in table.groups["african"]
    assert "arab" in table.groups["middle_eastern"]


# --- get_table ------------------------------------------------------------------------------


def test_get_table_by_name_path_and_object(tmp_path: Path) -> None:
    assert get_table() is get_table("standard")  # the default table
    documents = get_table("documents")
    assert get_table(documents) is documents
    copy = tmp_path / "copy.csv"
    copy.write_text(ranges.read_data_text("documents.csv"), encoding="utf-8")
    loaded = get_table(str(copy))
    assert loaded.name == "copy"
    assert [row.id for row in loaded.rows] == [row.id for row in documents.rows]
    assert get_table(copy).rows == loaded.rows  # a Path works too


def test_an_unknown_table_name_is_a_range_table_error() -> None:
    with pytest.raises(RangeTableError, match=r"no shipped table and no file.*documents"):
        get_table("nope")
    with pytest.raises(RangeTableError) as caught:
        get_table("Documents")
    assert caught.value.suggestions == ["documents"]


def test_shipped_tables_are_only_csv_files_with_a_table_header() -> None:
    assert shipped_table_names() == ["documents", "duffy-null", "standard"]


def test_shipped_tables_load_once_under_concurrent_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data.clear_caches()
    barrier = threading.Barrier(8)
    seen: list[RangeTable] = []

    def first_use() -> None:
        barrier.wait()
        seen.append(get_table())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert all(found is seen[0] for found in seen)


# --- load_table: a user's own table ---------------------------------------------------------

GOOD = {
    "id": "adult",
    "analyte": "wbc",
    "kind": "reference_interval",
    "name": "",
    "level": "",
    "age_from": "18",
    "age_to": "",
    "age_unit": "years",
    "sex": "any",
    "population": "any",
    "low": "4.0",
    "high": "10.5",
    "unit": "10^9/L",
    "source": "wikipedia",
    "note": "lab range",
}


def row(**changes: str) -> str:
    """A table row: the good adult row with some fields changed."""
    return ",".join({**GOOD, **changes}[column] for column in COLUMNS)


GOOD_ROW = row()
THRESHOLD = {"kind": "leukopenia_threshold", "high": ""}
VARIATION = {"kind": "ethnic_variation", "low": "", "high": ""}


def write(tmp_path: Path, *lines: str, name: str = "lab.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


BAD_TABLES = [
    # (rows after the header, row, field, words of the message)
    (row(low="11", high="4"), 2, "low", "above"),
    (row(source="my-lab"), 2, "source", "unknown source"),
    (row(source="wikipedai"), 2, "source", "did you mean 'wikipedia'"),
    (row(unit="mg/dL"), 2, "unit", "unknown unit"),
    (row(high=""), 2, "high", "needs a high"),
    (row(low=""), 2, "low", "needs a low"),
    (row(low="four"), 2, "low", "not a number"),
    (row(low="-4"), 2, "low", "0 or more"),
    (row(low="nan"), 2, "low", "finite"),
    (row(kind="reference_range"), 2, "kind", "did you mean 'reference_interval'"),
    (row(age_from=""), 2, "age_from", "empty"),
    (row(unit=""), 2, "unit", "empty"),
    (row(age_unit="eons"), 2, "age_unit", "unknown age unit"),
    (row(age_to="12"), 2, "age_to", "not above"),
    (row(sex="woman"), 2, "sex", "unknown sex"),
    (row(population="Black!"), 2, "population", "group name"),
    (row(analyte="hgb"), 2, "analyte", "unknown analyte"),
    (row(analyte="neutrophil"), 2, "analyte", "did you mean 'neutrophils'"),
    (row(id="Adult!"), 2, "id", "lower-case"),
    (row(kind="leukopenia_threshold"), 2, "high", "only a low"),
    (row(**VARIATION), 2, "population", "must name a population group"),
    (row(**{**VARIATION, "population": "african", "low": "3"}), 2, "low", "no limits"),
    (GOOD_ROW.rsplit(",", 1)[0], 2, None, "14 fields where the header has 15"),
    (f"{GOOD_ROW}\n{GOOD_ROW}", 3, "id", "already used on row 2"),
    (f"{GOOD_ROW}\n{row(id='old', age_from='65')}", 3, "age_from", "overlaps 'adult'"),
    (f"{GOOD_ROW}\n{row(id='f', sex='female')}", 3, "age_from", "overlaps 'adult'"),
    (row(**THRESHOLD), None, None, "no reference_interval row"),
]


@pytest.mark.parametrize(("rows", "row", "field", "message"), BAD_TABLES)
def test_a_bad_table_fails_loudly_naming_file_row_and_field(
    tmp_path: Path, rows: str, row: int | None, field: str | None, message: str
) -> None:
    path = write(tmp_path, HEADER, rows)
    with pytest.raises(RangeTableError) as caught:
        load_table(path)
    error = caught.value
    assert isinstance(error, CBCError)
    assert error.path == str(path)
    assert error.row == row
    assert error.field == field
    assert message in str(error)
    assert str(path) in str(error)


@pytest.mark.parametrize(
    ("header", "field", "message"),
    [
        (HEADER.replace(",source", ""), "source", "missing column"),
        (HEADER.replace("population", "populaton"), "population", "missing column"),
        (HEADER + ",extra", "extra", "unknown column"),
    ],
)
def test_a_bad_header_names_the_column(
    tmp_path: Path, header: str, field: str, message: str
) -> None:
    path = write(tmp_path, header, GOOD_ROW)
    with pytest.raises(RangeTableError, match=message) as caught:
        load_table(path)
    assert (caught.value.row, caught.value.field) == (1, field)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# only a comment\n", "empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_empty_or_unreadable_files(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(RangeTableError, match=message):
        load_table(path)


def test_a_missing_file_is_a_range_table_error(tmp_path: Path) -> None:
    with pytest.raises(RangeTableError, match="no such file"):
        load_table(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("sources", "field", "message"),
    [
        ('[[source]]\nid = "x"\ntitle = "T"\n', "publisher", "no publisher"),
        ('[[source]]\nid = "Bad Id"\ntitle = "T"\npublisher = "P"\n', "id", "lower-case"),
        ('[[source]]\nid = "x"\ntitle = "T"\npublisher = "P"\nkind = "blog"\n', "kind", "kind"),
        ('[[source]]\nid = "wikipedia"\ntitle = "Other"\npublisher = "P"\n', "id", "shipped"),
        ("[[source]\n", None, "TOML"),
    ],
)
def test_a_bad_sources_file_next_to_a_table_fails_loudly(
    tmp_path: Path, sources: str, field: str | None, message: str
) -> None:
    (tmp_path / "sources.toml").write_text(sources, encoding="utf-8")
    path = write(tmp_path, HEADER, GOOD_ROW)
    with pytest.raises(RangeTableError, match=message) as caught:
        load_table(path)
    assert caught.value.field == field
    assert caught.value.path == str(tmp_path / "sources.toml")


def test_a_copy_of_the_shipped_folder_loads(tmp_path: Path) -> None:
    """Repeating a shipped source unchanged next to a table is fine."""
    for name in ("documents.csv", "sources.toml"):
        (tmp_path / name).write_text(ranges.read_data_text(name), encoding="utf-8")
    assert len(load_table(tmp_path / "documents.csv").rows) == len(get_table("documents").rows)


# --- generated documentation ----------------------------------------------------------------


def test_docs_ranges_md_is_current() -> None:
    committed = (ROOT / "docs" / "ranges.md").read_text(encoding="utf-8")
    assert committed == render_pages(), (
        "docs/ranges.md is stale: run python -m cbc_ranges.ranges > docs/ranges.md"
    )


def test_the_page_lists_every_row_and_cited_source(table: RangeTable) -> None:
    page = render_markdown(table)
    offenders = [row.id for row in table.rows if f"`{row.id}`" not in page]
    offenders += [source.title for source in table.cited_sources() if source.title not in page]
    assert offenders == []


def test_a_missing_data_package_is_a_clear_range_table_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(data, "DATA_PACKAGE", "cbc_ranges.no_such_data")
    with pytest.raises(RangeTableError, match="not installed"):
        data._shipped_folder()


def test_the_data_package_holds_the_shipped_files() -> None:
    folder = data._shipped_folder()
    for name in (
        "documents.csv",
        "sources.toml",
        "explanations.toml",
        "analytes.toml",
        "ethnicity_groups.toml",
        "README.md",
    ):
        assert folder.joinpath(name).is_file(), name
