"""The teaching report, looked at as a person would: is the page whole, does it load nothing
from outside, do its numbers equal what ``cbc-ranges batch`` counts, and does it render."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cbc_ranges import report
from cbc_ranges.batch import check_csv
from cbc_ranges.cli import main
from cbc_ranges.reporting import plots
from cbc_ranges.reporting.page import NOT_A_DIAGNOSIS
from cbc_ranges.reporting.tally import ERROR_ROWS_SHOWN, Reservoir
from cbc_ranges.rows import CATEGORIES

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.csv"))
VOID = {"meta", "br", "hr", "img", "input", "link", "source", "wbr", "col", "area", "base"}


class PageChecker(HTMLParser):
    """A tag-stack checker: every tag closed in order; what the page declares and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.doctypes: list[str] = []
        self.processing: list[str] = []
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.styles: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.svg_ids: list[str] = []
        self.text: list[str] = []
        self._in_style = False
        self._cell: list[str] | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctypes.append(decl)

    def handle_pi(self, data: str) -> None:
        self.processing.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attributes(tag, attrs)
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag == "style":
            self._in_style = True
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attributes(tag, attrs)

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "data", "poster", "action"):
                self.links.append((tag, name, value or ""))
            if name == "style" and value:
                self.styles.append(value)
            if name == "id" and value and "svg" in self.stack:
                self.svg_ids.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "style":
            self._in_style = False
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def check_page(html: str) -> PageChecker:
    """Parse a whole page and assert what every report must be."""
    checker = PageChecker()
    checker.feed(html)
    checker.close()
    assert checker.problems == []
    assert checker.stack == []
    assert len(checker.doctypes) == 1 and checker.doctypes[0].lower() == "doctype html"
    assert html.startswith("<!DOCTYPE html>")
    assert checker.processing == []  # no <?xml ...?> pasted from the SVG writer
    assert "<?xml" not in html and html.lower().count("<!doctype") == 1
    # nothing loaded from outside: only <a href> may point out of the file
    for tag, attribute, value in checker.links:
        if tag == "a" and attribute == "href":
            continue
        assert not re.match(r"\s*(https?:)?//", value), (tag, attribute, value)
        assert not value.strip().lower().startswith("data:text/html"), (tag, value)
    for style in checker.styles:
        assert "@import" not in style
        for target in re.findall(r"url\(([^)]*)\)", style):
            assert target.strip("'\" ").startswith("#"), target
    assert len(checker.svg_ids) == len(set(checker.svg_ids))  # ids unique on the page
    assert "<script" not in html.lower()
    return checker


def headline(checker: PageChecker) -> dict[str, int]:
    """The headline table: rows read, checked, low, normal... could not be read."""
    table = checker.tables[0]
    return {
        name: int(value.replace(",", "")) for name, value in zip(table[0], table[1], strict=True)
    }


def batch_summary(path: Path, **options: object):
    return check_csv(path, io.BytesIO(), **options)


LAB_ROWS = (
    "age,sex,ethnicity,wbc,unit\n"
    "40,F,White,3.1,K/uL\n"
    "40,F,White,3.1,K/uL\n"
    "55,M,,12.5,10^9/L\n"
    "3,female,Black,7000,cells/uL\n"
    "0.01,M,,25,G/L\n"
    ",,,6.1,K/uL\n"
    "70,male,Asian,abc,K/uL\n"
    "70,male,Asian,5200,\n"
    "33,F,,4.2 x10^9/L,\n"
    '12,M,,"4,8",G/L\n'
    "30,F,Martian,6.0,K/uL\n"
    "200,F,,6.0,K/uL\n"
    "45,F,,1.2,K/uL\n"
    "45,F,,3.9,K/uL,extra\n"
)


@pytest.fixture
def tables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave the plots out: the test looks at counts and text only (plots cost ~1 s each)."""
    monkeypatch.setattr(plots, "available", lambda: False)


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.csv"
    path.write_text(LAB_ROWS, encoding="utf-8")
    return path


@pytest.mark.usefixtures("tables_only")
def test_page_is_whole_self_contained_and_counts_equal_batch(lab_file: Path) -> None:
    page = report(lab_file)
    checker = check_page(page.html)
    summary = batch_summary(lab_file)
    assert page.summary.rows_read == summary.rows_read == 14
    shown = headline(checker)
    assert shown == {
        "rows read": summary.rows_read,
        "rows checked": summary.checked,
        "low": summary.low,
        "normal": summary.normal,
        "high": summary.high,
        "indeterminate": summary.indeterminate,
        "could not be read": summary.errors,
    }
    assert summary.errors >= 3 and summary.low >= 2 and summary.indeterminate >= 1
    # the statement comes first, before any number
    text = " ".join(" ".join(checker.text).split())
    assert text.index(NOT_A_DIAGNOSIS) < text.index("rows checked")


@pytest.mark.usefixtures("tables_only")
def test_every_group_table_adds_up_to_the_flags(lab_file: Path) -> None:
    page = report(lab_file)
    tally = page.tallies["wbc"]
    summary = batch_summary(lab_file)
    assert tally.flags == [summary.low, summary.normal, summary.high, summary.indeterminate,
                           summary.errors]  # fmt: skip
    for dimension, counts in tally.groups.items():
        by_flag = Counter()
        for (_, category), rows in counts.items():
            by_flag[category] += rows
        assert [by_flag[i] for i in range(len(CATEGORIES))] == tally.flags, dimension
    ages = {label for label, _ in tally.groups["age"]}
    assert {"under 1 month", "2 to 10 years", "age not given", "age could not be read"} <= ages
    assert {label for label, _ in tally.groups["ancestry"]} >= {"not given", "not recognised"}


@pytest.mark.usefixtures("tables_only")
def test_the_hot_loop_and_the_careful_path_give_the_same_report(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    quoted = tmp_path / "quoted.csv"
    rows = [["age", "sex", "ethnicity", "wbc", "unit"]]
    rows += [[str(20 + i % 60), "FM"[i % 2], ["", "White", "Asian"][i % 3],
              f"{2 + (i % 140) / 10:.1f}", ["K/uL", "10^9/L", ""][i % 3]]
             for i in range(600)]  # fmt: skip
    with plain.open("w", newline="") as file:
        csv.writer(file).writerows(rows)
    with quoted.open("w", newline="") as file:
        csv.writer(file, quoting=csv.QUOTE_ALL).writerows(rows)
    fast, careful = report(plain).tallies["wbc"], report(quoted).tallies["wbc"]
    assert fast.flags == careful.flags
    assert fast.groups == careful.groups
    assert fast.units == careful.units
    assert fast.bands == careful.bands and fast.grades == careful.grades
    assert sorted((r.value, r.category) for r in fast.sample) == sorted(
        (r.value, r.category) for r in careful.sample
    )


def test_the_observer_leaves_the_batch_output_alone(lab_file: Path) -> None:
    from cbc_ranges.reporting.tally import Tally

    alone, observed = io.BytesIO(), io.BytesIO()
    check_csv(lab_file, alone)
    check_csv(lab_file, observed, observer=Tally())
    assert alone.getvalue() == observed.getvalue()


@pytest.mark.usefixtures("tables_only")
def test_rows_that_could_not_be_read_first_fifty_then_how_many_more(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    lines = ["age,sex,wbc,unit", "40,F,5.0,K/uL"] + [f"40,F,bad{i},K/uL" for i in range(62)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = report(path)
    checker = check_page(page.html)
    assert page.summary.errors == 62
    assert len(page.error_rows) == ERROR_ROWS_SHOWN
    assert page.error_rows[0].line == 3 and page.error_rows[0].cells == ["40", "F", "bad0", "K/uL"]
    assert "does not start with a number" in page.error_rows[0].message
    assert "12 more are not" in " ".join(checker.text)
    listed = next(t for t in checker.tables if t and t[0][:2] == ["line", "cells"])
    assert len(listed) == 1 + ERROR_ROWS_SHOWN and listed[1][0] == "3"


@pytest.mark.usefixtures("tables_only")
def test_units_factors_and_implausible_magnitudes(lab_file: Path) -> None:
    tally = report(lab_file).tallies["wbc"]
    units = {spelling: (read_as, factor) for (spelling, read_as, factor) in tally.units}
    assert units["cells/uL"][1] == 0.001 and units["K/uL"][1] == 1.0
    assert "x10^9/L" in units  # the unit inside the value cell
    assert units[""][0].startswith("none")
    # 5200 with no unit is read as 5200 x 10^9/L: far too high for a count
    assert tally.implausible["too high"] == 1
    assert "5200" in tally.implausible_examples[0][1]


@pytest.mark.usefixtures("tables_only")
def test_sources_are_cited_by_title_with_plain_links(lab_file: Path) -> None:
    page = report(lab_file)
    checker = check_page(page.html)
    text = " ".join(checker.text)
    from cbc_ranges.ranges import get_table

    table = get_table()
    assert page.tallies["wbc"].sources
    for source_id in page.tallies["wbc"].sources:
        assert table.sources[source_id].title in text
    # a source with an address gets a plain link to it
    from cbc_ranges.reporting.page import _sources_section
    from cbc_ranges.reporting.tally import AnalyteTally

    tally = AnalyteTally("wbc", "WBC", 0.5, (0.01, 1000.0))
    tally.sources["hibbs-2025"] = 3
    section = _sources_section([tally], table)
    assert f'<a href="{table.sources["hibbs-2025"].url}">' in section


@pytest.mark.usefixtures("tables_only")
def test_provenance_names_version_table_options_and_checksum(lab_file: Path) -> None:
    import hashlib

    from cbc_ranges import __version__

    page = report(lab_file, where=["sex=F,M"])
    text = " ".join(check_page(page.html).text)
    assert f"cbc-ranges {__version__}" in text
    assert hashlib.sha256(lab_file.read_bytes()).hexdigest() in text
    assert "lab.csv" in text and "standard" in text and "where=['sex=F,M']" in text
    assert page.summary.skipped == batch_summary(lab_file, where=["sex=F,M"]).skipped > 0


def test_plots_are_inline_svg_without_prolog_and_with_unique_ids(lab_file: Path) -> None:
    page = report(lab_file)
    assert page.html.count("<svg") == 3  # values, values by age, flags by group
    assert page.html.count("<figcaption>") == 3
    for colour in (plots.FLAG_COLOURS["low"], plots.FLAG_COLOURS["normal"]):
        assert colour.lower() in page.html.lower()


def test_two_reports_in_one_notebook_share_no_plot_id() -> None:
    first = report(io.BytesIO(b"age,sex,wbc\n40,F,3.1\n50,M,7.5\n"))._repr_html_()
    second = report(io.BytesIO(b"age,sex,wbc\n40,F,13.1\n9,M,7.5\n"))._repr_html_()
    ids = re.findall(r'\bid="([^"]+)"', first + second)
    assert ids and len(ids) == len(set(ids))


def test_without_matplotlib_the_report_keeps_its_tables(
    lab_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    page = report(lab_file)
    checker = check_page(page.html)
    assert "<svg" not in page.html
    assert plots.EXTRA in " ".join(checker.text)
    assert headline(checker)["rows read"] == 14


def test_a_large_file_gives_a_small_page(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        from bench_batch import generate
    finally:
        sys.path.pop(0)
    path = tmp_path / "big.csv"
    generate(path, 20_000)
    page = report(path, sample_size=500)
    check_page(page.html)
    assert len(page.tallies["wbc"].sample) == 500
    assert page.summary.rows_read == 20_000
    assert len(page.html.encode()) < 2_000_000


@pytest.mark.parametrize(
    ("data", "where"),
    [(b"", None), (b"age,sex,wbc\n", None), (b"age,sex,wbc\n40,F,5.0\n", ["sex=M"])],
    ids=["empty", "header only", "every row filtered out"],
)
def test_a_file_with_nothing_to_check_still_gives_a_sound_page(
    data: bytes, where: list[str] | None
) -> None:
    page = report(io.BytesIO(data), where=where)
    checker = check_page(page.html)
    assert page.summary.checked == 0
    assert NOT_A_DIAGNOSIS in " ".join(checker.text)
    assert "<svg" not in page.html


@pytest.mark.usefixtures("tables_only")
def test_a_wide_panel_file_and_exact_ages_give_the_batch_wbc_counts(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(
        "age,sex,wbc,unit,NEUT%,LYMPH#\n40,F,3.1,K/uL,60,1.2\n50,M,7.5,K/uL,55,2.0\n"
        "60,F,abc,K/uL,50,1.0\n"
    )
    page = report(wide)
    summary = batch_summary(wide)
    assert page.tallies["wbc"].flags == [1, 1, 0, 0, 1]
    assert (summary.low, summary.normal, summary.errors) == (1, 1, 1)
    dated = tmp_path / "dated.csv"
    dated.write_text(
        "birth,drawn,sex,wbc\n2020-01-15,2020-02-01,F,12.0\n1980-05-01,2024-05-01,M,7.5\n"
        "1980-05-01,05/03/2024,M,7.5\n"
    )
    page = report(dated, birth_date_col="birth", date_col="drawn")
    summary = batch_summary(dated, birth_date_col="birth", date_col="drawn")
    flags = page.tallies["wbc"].flags
    assert flags == [summary.low, summary.normal, summary.high, summary.indeterminate,
                     summary.errors]  # fmt: skip
    ages = {label for label, _ in page.tallies["wbc"].groups["age"]}
    assert {"under 1 month", "40 to 64 years", "age could not be read"} <= ages


@pytest.mark.usefixtures("tables_only")
def test_a_run_the_report_did_not_hear_gives_no_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cbc_ranges.errors import BatchError
    from cbc_ranges.reporting.tally import Tally

    # a way of reading the file that does not tell the report about its rows (a future path)
    path = tmp_path / "quoted.csv"
    path.write_text('age,sex,wbc\n"40","F","3.1"\n"50","M","7.5"\n')
    monkeypatch.setattr(Tally, "row", lambda self, *args: None)
    monkeypatch.setattr(Tally, "block", lambda self, *args: None)  # the fast path's blocks
    with pytest.raises(BatchError, match="counted 0 rows where the batch run checked 2"):
        report(path)


def _flags_from_output(rows: list[dict[str, str]], analyte_of, flag_of, error_of) -> dict:
    """Per analyte [low, normal, high, indeterminate, error], counted from the batch's output."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        analyte = analyte_of(row)
        if not analyte:
            continue
        flag, error = flag_of(row), error_of(row)
        if error:
            counts.setdefault(analyte, [0] * 5)[4] += 1
        elif flag:
            counts.setdefault(analyte, [0] * 5)[CATEGORIES.index(flag)] += 1
    return counts


def test_whole_panels_of_a_long_file_give_each_analyte_its_section(tmp_path: Path) -> None:
    example = next(path for path in EXAMPLES if path.name == "panels_sample.csv")
    page = report(example, analyte_col="itemid")
    checker = check_page(page.html)
    summary = batch_summary(example, analyte_col="itemid")
    # the report's totals are the batch summary's
    totals = [sum(t.flags[i] for t in page.tallies.values()) for i in range(5)]
    assert totals == [summary.low, summary.normal, summary.high, summary.indeterminate,
                      summary.errors]  # fmt: skip
    # each analyte's counts are those of the batch's own output, counted here independently
    out = io.BytesIO()
    check_csv(example, out, analyte_col="itemid", format="jsonl")
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    expected = _flags_from_output(
        rows, lambda r: r["cbc_analyte"] if r["cbc_flag"] or r["cbc_error"] else None,
        lambda r: r["cbc_flag"], lambda r: r["cbc_error"],
    )  # fmt: skip
    out = io.BytesIO()
    check_csv(example, out, analyte_col="itemid")
    table = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    from_csv = _flags_from_output(
        table, lambda r: r["cbc_analyte"] if r["cbc_flag"] or r["cbc_error"] else None,
        lambda r: r["cbc_flag"], lambda r: r["cbc_error"],
    )  # fmt: skip
    assert from_csv == expected
    shown = {key: tally.flags for key, tally in page.tallies.items() if tally.rows}
    assert shown == expected
    assert len(expected) >= 5  # WBC and the differential, not the WBC alone
    # bands are listed, never flagged
    bands = sum(1 for r in rows if r["cbc_analyte"] == "bands")
    assert bands and page.tallies["bands"].listed == bands and page.tallies["bands"].rows == 0
    # percentages made counts: the section says how many
    worked = sum(
        1 for r in rows
        if r["cbc_analyte"] == "lymphocytes" and r["cbc_percent"] is not None
        and r["cbc_value"] is not None
    )  # fmt: skip
    assert worked and page.tallies["lymphocytes"].from_percent == worked
    text = " ".join(checker.text)
    for tally in page.tallies.values():
        assert tally.label in text
    assert f"{worked} of these values were written as a percentage" in text
    assert "listed, not flagged" in text
    assert main(["report", str(example), "--analyte-col", "itemid", "-o",
                 str(tmp_path / "x.html"), "-q"]) == 0  # fmt: skip
    assert (tmp_path / "x.html").exists()


@pytest.mark.usefixtures("tables_only")
def test_whole_panels_share_the_sample_so_the_page_stays_small() -> None:
    example = next(path for path in EXAMPLES if path.name == "panels_sample.csv")
    page = report(example, analyte_col="itemid", sample_size=60)
    drawn = [len(tally.sample) for tally in page.tallies.values() if tally.sample]
    assert len(drawn) >= 5 and sum(drawn) <= 60  # alone, each analyte would keep up to 60
    assert all(size == 60 // len(drawn) for size in drawn)


@pytest.mark.usefixtures("tables_only")
def test_a_percentage_is_drawn_as_its_count_and_one_without_a_wbc_is_said(
    tmp_path: Path,
) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        "panel,item,value,unit,age,sex\n"
        "1,51301,10.0,K/uL,40,F\n"  # the panel's WBC
        "1,51256,60,%,40,F\n"  # neutrophils 60 %: a count of 6.0
        "2,51256,55,%,50,M\n"  # a panel with no WBC: not a count
        "2,51244,30\n"  # ragged: its test is not read
        "3,50912,1.1,mg/dL,60,F\n"  # another test
    )
    page = report(path, analyte_col="item", panel_cols="panel")
    summary = batch_summary(path, analyte_col="item", panel_cols="panel")
    neutrophils = page.tallies["neutrophils"]
    assert [row.value for row in neutrophils.sample] == [6.0]
    assert (neutrophils.from_percent, neutrophils.percent_alone) == (1, 1)
    assert neutrophils.count("indeterminate") == 1
    assert summary.errors == 1 and page.summary.errors == 1
    text = " ".join(check_page(page.html).text)
    assert "1 could not be worked out: no usable white cell count was found" in text
    assert "test not known" in text


@pytest.mark.usefixtures("tables_only")
def test_a_wide_file_gives_each_differential_column_its_section(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(
        "age,sex,wbc,unit,NEUT%,LYMPH#\n40,F,3.1,K/uL,60,1.2\n50,M,7.5,K/uL,55,0.2\n"
        "60,F,abc,K/uL,50,1.0\n30,M,8.0,K/uL,,9.5\n"
    )
    page = report(wide)
    summary = batch_summary(wide)
    out = io.BytesIO()
    check_csv(wide, out)
    table = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    for analyte in ("neutrophils", "lymphocytes"):
        expected = _flags_from_output(
            table, lambda r, a=analyte: a if r[f"{a}_flag"] or r[f"{a}_error"] else None,
            lambda r, a=analyte: r[f"{a}_flag"], lambda r, a=analyte: r[f"{a}_error"],
        )  # fmt: skip
        assert page.tallies[analyte].flags == expected[analyte]
        assert not page.tallies[analyte].in_summary
    assert page.tallies["wbc"].flags == [summary.low, summary.normal, summary.high,
                                         summary.indeterminate, summary.errors]  # fmt: skip
    assert page.tallies["neutrophils"].from_percent == 2  # the third row has no WBC to use
    text = " ".join(check_page(page.html).text)
    assert "Neutrophils" in text and "Lymphocytes" in text


def test_an_observer_without_panel_row_still_hears_each_row_of_a_long_file() -> None:
    from cbc_ranges.batch.writers import Writer

    class Rows:
        def __init__(self) -> None:
            self.categories: list[int] = []

        def start(self, writer: Writer) -> None:
            pass

        def row(self, number: int, cells: list[str], category: int, result: object) -> None:
            self.categories.append(category)

        def plain(self, number: int, cells: list[bytes], found: object) -> None:
            raise AssertionError("a long file is read by the row loop")

    example = next(path for path in EXAMPLES if path.name == "panels_sample.csv")
    heard = Rows()
    summary = check_csv(example, io.BytesIO(), analyte_col="itemid", observer=heard)
    assert len(heard.categories) == summary.rows_read
    assert heard.categories.count(CATEGORIES.index("low")) == summary.low


@pytest.mark.usefixtures("tables_only")
@pytest.mark.parametrize(
    "options",
    [{}, {"where": ["sex=F"]}, {"ref_low_col": "low", "ref_high_col": "high"}],
    ids=["plain", "where", "lab range"],
)
def test_the_columnar_blocks_give_the_report_of_the_row_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, object]
) -> None:
    pytest.importorskip("polars")
    from cbc_ranges.batch import fast
    from cbc_ranges.reporting.tally import Tally

    # small blocks, some the fast path takes and some (a quoted or ragged line) it leaves
    monkeypatch.setattr(fast, "BLOCK_BYTES", 1 << 10)
    lines = ["age,sex,ethnicity,wbc,unit,low,high"]
    spellings = ["K/uL", "10^9/L", "", "cells/uL", "G/L"]
    for n in range(3000):
        value = ["3.1", "7.5", "12.5", "abc", "0.4", "6.2 K/uL", "900"][n % 7]
        unit = spellings[n % 5] if value != "6.2 K/uL" else ""
        if unit == "cells/uL":
            value = "6100"
        line = f"{n % 90},{'FM'[n % 2]},{['White', '', 'Black'][n % 3]},{value},{unit},4,11"
        if n % 401 == 7:
            line = '"' + line.replace(",", '","') + '"'
        if n % 577 == 3:
            line += ",extra"
        lines.append(line)
    path = tmp_path / "blocks.csv"
    path.write_text("\n".join(lines) + "\n")
    heard: list[int] = []
    block = Tally.block
    monkeypatch.setattr(Tally, "block", lambda self, *a: (heard.append(a[0]), block(self, *a)))
    columnar = report(path, **options)
    assert len(heard) > 3  # the fast path was taken, block by block
    careful = report(path, careful=True, **options)
    for name in ("flags", "groups", "bands", "grades", "sources", "units", "implausible",
                 "implausible_examples"):  # fmt: skip
        assert getattr(columnar.tallies["wbc"], name) == getattr(careful.tallies["wbc"], name)
    assert [(r.value, r.age_years, r.category) for r in columnar.tallies["wbc"].sample] == [
        (r.value, r.age_years, r.category) for r in careful.tallies["wbc"].sample
    ]
    assert columnar.error_rows == careful.error_rows  # line numbers exact
    assert columnar.summary.errors > 0
    summary = columnar.summary
    assert columnar.tallies["wbc"].flags == [summary.low, summary.normal, summary.high,
                                             summary.indeterminate, summary.errors]  # fmt: skip


@pytest.mark.usefixtures("tables_only")
def test_frames_give_the_counts_of_their_csv(lab_file: Path) -> None:
    pandas = pytest.importorskip("pandas")
    polars = pytest.importorskip("polars")
    frame = pandas.DataFrame(
        {"age": [40, 55, 3, None], "sex": ["F", "M", "F", "M"], "wbc": [3.1, 12.5, 7.0, None]}
    )
    from_pandas = report(frame)
    from_polars = report(polars.from_pandas(frame))
    for page in (from_pandas, from_polars):
        check_page(page.html)
        assert page.tallies["wbc"].flags == [1, 1, 1, 0, 1]
        assert page.error_rows[0].line == 4  # the frame's fourth row
    assert "a pandas DataFrame (4 rows, 3 columns)" in from_pandas.html
    assert re.search(r"<th scope=\"col\"[^>]*>row</th>", from_pandas.html)


@pytest.mark.usefixtures("tables_only")
def test_notebook_display_and_save(lab_file: Path, tmp_path: Path) -> None:
    page = report(lab_file)
    fragment = page._repr_html_()
    assert fragment.startswith('<div class="cbc-report"><style>') and "<!DOCTYPE" not in fragment
    assert "<body" not in fragment and NOT_A_DIAGNOSIS in fragment
    out = page.save(tmp_path / "out.html")
    assert out.read_text(encoding="utf-8") == page.html
    from cbc_ranges.errors import BatchError

    with pytest.raises(BatchError, match="never overwritten"):
        page.save(lab_file)
    assert lab_file.read_text(encoding="utf-8") == LAB_ROWS


@pytest.mark.usefixtures("tables_only")
def test_report_refuses_the_options_of_a_csv_output(lab_file: Path) -> None:
    with pytest.raises(TypeError, match="'format'"):
        report(lab_file, format="jsonl")


@pytest.mark.usefixtures("tables_only")
def test_cli_report_writes_the_page_next_to_the_input(
    lab_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(lab_file), "--where", "sex=F"]) == 0
    written = lab_file.with_name("lab.report.html")
    checker = check_page(written.read_text(encoding="utf-8"))
    summary = batch_summary(lab_file, where=["sex=F"])
    assert headline(checker)["rows checked"] == summary.checked
    assert "written to" in capsys.readouterr().err
    assert main(["report", str(lab_file), "-o", str(lab_file), "-q"]) == 2
    assert lab_file.read_text(encoding="utf-8") == LAB_ROWS
    # batch's input options, not its output ones
    with pytest.raises(SystemExit):
        main(["report", str(lab_file), "--format", "jsonl"])


@pytest.mark.usefixtures("tables_only")
def test_cli_report_reads_a_semicolon_file_with_a_named_column(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("Alter;Geschlecht;Messwert;Einheit\n40;F;3,1;G/l\n50;M;7,5;G/l\n")
    out = tmp_path / "eu.html"
    assert main(["report", str(path), "--value-col", "Messwert", "-o", str(out), "-q"]) == 0
    shown = headline(check_page(out.read_text(encoding="utf-8")))
    assert (shown["low"], shown["normal"]) == (1, 1)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_every_shipped_example_has_a_sound_report(example: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{example.stem}.html"
    assert main(["report", str(example), "-o", str(out), "-q"]) == 0
    checker = check_page(out.read_text(encoding="utf-8"))
    summary = batch_summary(example)
    shown = headline(checker)
    assert (shown["low"], shown["normal"], shown["high"]) == (
        summary.low,
        summary.normal,
        summary.high,
    )
    assert (shown["indeterminate"], shown["could not be read"]) == (
        summary.indeterminate,
        summary.errors,
    )


def test_the_reservoir_is_a_uniform_sample_with_a_fixed_seed() -> None:
    def draw(seed: int) -> list[int]:
        sample = Reservoir(1000, seed=seed)
        for seen in range(1, 100_001):
            if seen >= sample.next_at:
                sample.offer(seen, seen)
        return sample.items

    first = draw(7)
    assert first == draw(7) and first != draw(8)
    assert len(set(first)) == 1000
    assert 45_000 < sum(first) / len(first) < 55_000  # the middle of 1..100,000
    assert sum(1 for item in first if item > 90_000) > 60  # late items get in (~100)


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_the_page_renders_in_a_real_browser(tmp_path: Path, lab_file: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser (chromium) is installed; .ci/run installs one")
    page = report(lab_file)
    # the test adds a script (the report has none) that writes each plot's laid-out size
    probe = (
        "<script>window.addEventListener('load',()=>{document.querySelectorAll("
        "'figure > svg').forEach((svg,i)=>{const box=svg.getBoundingClientRect();"
        "document.body.setAttribute('data-plot-'+i,box.width+'x'+box.height);});"
        "document.body.setAttribute('data-page',document.documentElement.clientWidth+'x'+"
        "document.documentElement.scrollWidth);document.body.setAttribute('data-done','yes');"
        "});</script>"
    )
    probed = tmp_path / "probed.html"
    probed.write_text(page.html.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--virtual-time-budget=3000", "--window-size=390,2400"]  # fmt: skip
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert 'data-done="yes"' in dom
    sizes = re.findall(r'data-plot-\d+="([\d.]+)x([\d.]+)"', dom)
    page_width, scroll_width = map(float, re.findall(r'data-page="([\d.]+)x([\d.]+)"', dom)[0])
    assert scroll_width <= page_width  # nothing wider than a narrow window: no sideways scroll
    assert len(sizes) == 3
    for width, height in sizes:
        assert 200 < float(width) <= page_width and float(height) > 100
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", (tmp_path / "plain.html").as_uri()]
        if (tmp_path / "plain.html").write_text(page.html, encoding="utf-8")
        else [],
        capture_output=True,
        timeout=60,
    )
    assert shot.exists() and shot.stat().st_size > 0
    image = pytest.importorskip("PIL.Image")
    with image.open(shot) as picture:
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 20  # text, tables and plots: not a blank page
