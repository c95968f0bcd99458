"""The columnar fast path of the batch (``cbc_ranges.batch.fast``) against the careful path.

Its contract: the same output bytes and the same summary as ``careful=True`` (the row loop
of ``writers.write_csv``), on any file. Blocks are made small here so that every file
spans several of them; speed is measured in ``benchmarks/bench_scale.py``, never here.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbc_ranges.batch import BatchSummary, check_csv, command, fast
from cbc_ranges.batch.columns import Columns
from cbc_ranges.batch.writers import Layout
from cbc_ranges.cli import main
from cbc_ranges.errors import BatchError

pytest.importorskip("polars")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.csv"))


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "BLOCK_BYTES", 512)


lines_written: list[str] = []


@pytest.fixture
def blocks_written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of every block the fast path wrote (their lines in ``lines_written``)."""
    written: list[int] = []
    original = fast.FastCSV._write

    def spy(self: fast.FastCSV, block: Any, steps: Any) -> None:
        written.append(block.rows)
        lines_written.extend(block.lines.to_list())
        original(self, block, steps)

    lines_written.clear()

    monkeypatch.setattr(fast.FastCSV, "_write", spy)
    return written


def both(data: bytes, **options: Any) -> tuple[bytes, BatchSummary, bytes, BatchSummary]:
    """(fast output, its summary, careful output, its summary) of the same bytes."""
    fast_out, careful_out = io.BytesIO(), io.BytesIO()
    fast_summary = check_csv(io.BytesIO(data), fast_out, **options)
    careful_summary = check_csv(io.BytesIO(data), careful_out, careful=True, **options)
    return fast_out.getvalue(), fast_summary, careful_out.getvalue(), careful_summary


def assert_same(data: bytes, **options: Any) -> bytes:
    fast_bytes, fast_summary, careful_bytes, careful_summary = both(data, **options)
    assert fast_bytes == careful_bytes
    assert dataclasses.replace(fast_summary, seconds=0) == dataclasses.replace(
        careful_summary, seconds=0
    )
    return fast_bytes


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
@pytest.mark.parametrize("jobs", [1, 2])
def test_shipped_examples_give_the_same_bytes_and_summary(
    path: Path, jobs: int, blocks_written: list[int]
) -> None:
    assert_same(path.read_bytes(), jobs=jobs)
    # the European example is cp1252: the fast path reads UTF-8 only; a wide panel file
    # (differential columns) takes the row loop
    assert bool(blocks_written) == (path.name not in ("european_wbc.csv", "cbc_wide.csv"))


def test_the_labevents_example_with_where_skips_the_same_rows(blocks_written: list[int]) -> None:
    data = (ROOT / "examples" / "labevents_sample.csv").read_bytes()
    out = assert_same(data, where="itemid=51301")
    assert blocks_written
    skipped = check_csv(io.BytesIO(data), io.BytesIO(), where="itemid=51301").skipped
    assert skipped > 0 and out.count(b"\n") == data.count(b"\n")


def test_the_benchmark_file_gives_the_same_bytes(tmp_path: Path, blocks_written: list[int]) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_batch import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    generate(tmp_path / "bench.csv", 3_000)
    data = (tmp_path / "bench.csv").read_bytes()
    for jobs in (1, 2):
        assert_same(data, jobs=jobs)
    assert sum(blocks_written) == 2 * 3_000


def test_a_plain_file_is_written_in_blocks_and_each_row_once(blocks_written: list[int]) -> None:
    rows = b"".join(
        b"%d,%d,F,%d.%d,K/uL\r\n" % (i, 20 + i % 50, i % 15, i % 10) for i in range(400)
    )
    data = b"id,age,sex,wbc,unit\r\n" + rows
    out = assert_same(data)
    assert len(blocks_written) > 3 and sum(blocks_written) == 400
    assert out.count(b"\r\n") == 401 and b"\r\r" not in out


@pytest.mark.parametrize(
    ("odd", "why"),
    [
        (b'7,40,F,"4,2",K/uL\n8,40,F,"3\n.2",K/uL\n', "a quoted line break"),
        (b"7,40,F,4.2,K/uL\n\n8,40,F,3.1,K/uL\n", "a blank line"),
        (b"7,40,F,4.2,K/uL,extra\n8,40,F\n", "ragged rows"),
        (b"7,40,F,4.2,K/uL,extra\n8,40,F,3.1\n", "ragged rows whose fields add up"),
        (b"8,40,F,3.1\n7,40,F,4.2,K/uL,extra\n", "a short row, then a long one"),
        (b"7,40,F,4.2,K/uL\r\n8,40,F,3.1,K/uL\n", "another line end"),
        (b'7,40,F,4.2 "K/uL",K/uL\n', "a quote inside a field"),
        (b"7,40,F,4.2,K/\xb5L\n", "a byte that is not UTF-8"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_an_odd_block_takes_the_row_loop_and_the_blocks_after_it_the_fast_path(
    odd: bytes, why: str, blocks_written: list[int]
) -> None:
    # a byte that is not UTF-8 in the first 64 KiB makes the whole file cp1252: put it after
    before = 4_000 if b"\xb5" in odd else 60
    plain = b"".join(b"%d,40,F,%d.1,K/uL\n" % (i, i % 9) for i in range(before))
    after = b"".join(b"%d,41,M,%d.1,K/uL\n" % (i, i % 9) for i in range(before, before + 60))
    data = b"id,age,sex,wbc,unit\n" + plain + odd + after
    assert_same(data)
    rows = data.count(b"\n") - 1
    assert 0 < sum(blocks_written) < rows, why  # the odd block went through the row loop
    assert after.splitlines()[-1].decode() in lines_written, why  # and the fast path went on


def test_a_byte_order_mark_at_the_start_of_a_block_is_kept(blocks_written: list[int]) -> None:
    # files joined together carry their marks inside; polars drops one that starts its input
    rows = b"".join(b"\xef\xbb\xbf%d,40,F,%d.1,K/uL\n" % (i, i % 9) for i in range(100))
    out = assert_same(b"id,age,sex,wbc,unit\n" + rows)
    assert out.count(b"\xef\xbb\xbf") == 100


def test_simply_quoted_fields_stay_on_the_fast_path(blocks_written: list[int]) -> None:
    rows = b"".join(b'%d,40,F,"%d.1",K/uL,"a ""note"", with a comma"\n' % (i, i % 9)
                    for i in range(100))  # fmt: skip
    assert_same(b"id,age,sex,wbc,unit,comment\n" + rows)
    assert sum(blocks_written) == 100


def test_a_last_line_without_its_end_is_written_as_before(blocks_written: list[int]) -> None:
    rows = b"".join(b"%d,40,M,%d.5,K/uL\n" % (i, i % 12) for i in range(50))
    out = assert_same(b"id,age,sex,wbc,unit\n" + rows + b"51,40,M,2.5,K/uL")
    assert not out.endswith(b"\n") and sum(blocks_written) == 50


def test_a_semicolon_file_with_decimal_commas_and_the_labs_range(
    blocks_written: list[int],
) -> None:
    rows = b"".join(b"%d;%d;F;%d,4;G/L;3,5;10,5\n" % (i, 5 + i % 70, i % 14) for i in range(120))
    assert_same(b"id;age;sex;wbc;unit;ref_range_lower;ref_range_upper\n" + rows)
    assert sum(blocks_written) == 120


def test_without_polars_the_careful_path_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "_polars_usable", lambda: False)
    ran: list[bool] = []
    monkeypatch.setattr(fast.FastCSV, "__call__", lambda *args: ran.append(True))
    rows = b"".join(b"%d,40,F,%d.1,K/uL\n" % (i, i % 9) for i in range(50))
    assert_same(b"id,age,sex,wbc,unit\n" + rows)
    assert ran == []


def test_eligible_is_the_one_predicate() -> None:
    layout = Layout(Columns({"value": 0, "unit": 1}, {}, None), 2, "utf-8", ",")
    plain = fast.FastOptions("csv", False, False, "utf-8", False, True)
    assert fast.eligible(layout, plain)
    for change in (
        {"output_format": "jsonl"},
        {"text": True},
        {"converted": True},
        {"line_codec": "cp1252"},
        {"wide": True},
        {"readable": False},
        {"careful": True},
    ):
        assert not fast.eligible(layout, dataclasses.replace(plain, **change)), change  # type: ignore[arg-type]
    cp1252 = Layout(Columns({"value": 0}, {}, None), 1, "cp1252", ",")
    assert not fast.eligible(cp1252, plain)


def test_jobs_must_be_a_positive_number() -> None:
    with pytest.raises(BatchError, match="--jobs"):
        check_csv(io.BytesIO(b"wbc\n4.2\n"), io.BytesIO(), jobs=0)


def test_the_command_takes_jobs_and_careful(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], blocks_written: list[int]
) -> None:
    source = tmp_path / "lab.csv"
    source.write_bytes(b"age,sex,wbc\n" + b"40,F,3.1 K/uL\n" * 100)
    assert main(["batch", str(source), "-o", str(tmp_path / "a.csv"), "--jobs", "2", "-q"]) == 0
    assert sum(blocks_written) == 100
    assert main(["batch", str(source), "-o", str(tmp_path / "b.csv"), "--careful", "-q"]) == 0
    assert sum(blocks_written) == 100  # the careful run wrote no block
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert main(["batch", str(source), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_progress_counts_the_rows_of_the_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[int] = []
    monkeypatch.setattr(command._Progress, "show", lambda self, rows, now: shown.append(rows))
    monkeypatch.setattr(command.time, "monotonic", iter(range(0, 10**6)).__next__)
    rows = b"".join(b"%d,40,F,%d.1,K/uL\n" % (i, i % 9) for i in range(300))
    check_csv(io.BytesIO(b"id,age,sex,wbc,unit\n" + rows), io.BytesIO(), progress=True)
    assert shown and shown == sorted(shown) and shown[-1] <= 300 and len(set(shown)) > 1


# generated files: what any lab file may hold, fast == careful byte for byte
_VALUES = st.sampled_from(
    ["4.2", "11", "3,5", "0.9", "7300", "abc", "", " 5.1 ", "-2", "4.2 K/uL", "9e3", "1e99",
     "12.5 x10^9/L", "<0.5", ">50", "4,500", "6..1"]
)  # fmt: skip
_UNITS = st.sampled_from(["K/uL", "10^9/L", "cells/uL", "/mm3", "G/L", "", "mg/dL", "x10E3/uL"])
_AGES = st.sampled_from(["40", "3", "0", "95", "", "abc", "-3", "17", "2 days", "70"])
_SEXES = st.sampled_from(["F", "M", "female", "", "x", "Male"])
_ROW = st.tuples(st.integers(0, 10**6), _AGES, _SEXES, _VALUES, _UNITS)


def _field(cell: str, delimiter: str, quote: bool) -> str:
    if quote or delimiter in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_ROW, min_size=1, max_size=60),
    end=st.sampled_from(["\n", "\r\n"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    last_end=st.booleans(),
    odd=st.lists(
        st.sampled_from(
            ["", "ragged", "quote", "blank", "wrong end", "broken quote", "line break"]
        ),
        min_size=0, max_size=60,
    ),
    where=st.booleans(),
    block=st.sampled_from([64, 300, 4096]),
)  # fmt: skip
def test_any_file_gives_the_same_bytes_fast_and_careful(
    rows: list[tuple[int, str, str, str, str]],
    end: str,
    delimiter: str,
    last_end: bool,
    odd: list[str],
    where: bool,
    block: int,
) -> None:
    lines = [delimiter.join(["id", "age", "sex", "wbc", "unit", "ward"])]
    for n, (number, age, sex, value, unit) in enumerate(rows):
        kind = odd[n] if n < len(odd) else ""
        ward = "ICU" if number % 3 else "ED"
        cells = [str(number), age, sex, value, unit, ward]
        if kind == "line break":  # a quoted field over two lines, maybe over two blocks
            cells[5] = f"{ward}{end}second line"
        line = delimiter.join(_field(c, delimiter, (kind, i) in (("quote", 3), ("line break", 5)))
                              for i, c in enumerate(cells))  # fmt: skip
        if kind == "ragged":
            line += delimiter + "extra"
        elif kind == "blank":
            line = ""
        elif kind == "wrong end":
            line += "\r" if end == "\n" else ""
        elif kind == "broken quote":
            line = line.replace("ICU", '"ICU').replace("ED", '"ED')
        lines.append(line)
    text = end.join(lines) + (end if last_end else "")
    data = text.encode("utf-8")
    old = fast.BLOCK_BYTES
    fast.BLOCK_BYTES = block
    try:
        options: dict[str, Any] = {"where": "ward=ICU"} if where else {}
        assert_same(data, **options)
        assert_same(data, jobs=2, **options)
    finally:
        fast.BLOCK_BYTES = old


_ODD_TEXT = st.text(
    alphabet=st.sampled_from(
        [*list('0123456789.,;"\t |abKuL/^ \r\n\x1f\x1e\ufeffµ×'), "\xa0", "\u2028"]
    ),
    max_size=8,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(st.lists(_ODD_TEXT, min_size=4, max_size=4), min_size=1, max_size=30),
    quote=st.booleans(),
    end=st.sampled_from(["\n", "\r\n"]),
)
def test_any_cell_text_gives_the_same_bytes_fast_and_careful(
    cells: list[list[str]], quote: bool, end: str
) -> None:
    lines = ["age,sex,wbc,unit"]
    for row in cells:
        if quote:
            lines.append(",".join('"' + cell.replace('"', '""') + '"' for cell in row))
        else:
            lines.append(",".join(row))
    old = fast.BLOCK_BYTES
    fast.BLOCK_BYTES = 64
    try:
        assert_same((end.join(lines) + end).encode("utf-8"), jobs=1)
    finally:
        fast.BLOCK_BYTES = old


@pytest.mark.parametrize(
    ("data", "options"),
    [
        (b"id,WBC,NEUT%,unit\n1,6.0,50,K/uL\n2,3.0,40,K/uL\n", {}),
        (
            b"specimen_id,itemid,valuenum,valueuom\n1,51301,6.0,K/uL\n1,51256,50,%\n",
            {"analyte_col": "itemid"},
        ),
        (
            b"WBC,unit,dob,drawn\n6.0,K/uL,2020-01-31,2020-02-29\n",
            {"birth_date_col": "dob", "date_col": "drawn"},
        ),
    ],
    ids=["wide panel", "long panel", "ages from dates"],
)
def test_panels_and_ages_from_dates_take_the_row_loop(
    data: bytes, options: dict[str, Any], blocks_written: list[int]
) -> None:
    out = assert_same(data, **options)
    assert blocks_written == []
    # each mode's own output: a panel's columns, or the infant range of a one-month-old
    assert any(word in out for word in (b"neutrophils_flag", b"cbc_analyte", b",6.1,17.5,"))


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_tables_that_fill_start_afresh_and_give_the_same_bytes(
    jobs: int, monkeypatch: pytest.MonkeyPatch, blocks_written: list[int]
) -> None:
    # a tiny bound: the tables of known keys fill in every block or two and start afresh,
    # with their class and count numbers, while blocks are read ahead
    monkeypatch.setattr(fast, "_KNOWN_LIMIT", 5)
    forgotten: list[int] = []
    original = fast.FastCSV._forget

    def spy(self: fast.FastCSV) -> None:
        if any(table.height > fast._KNOWN_LIMIT for table in self.tables.values()):
            forgotten.append(len(blocks_written))
        original(self)

    monkeypatch.setattr(fast.FastCSV, "_forget", spy)
    rows = b"".join(
        b"%d,%d,%s,%d.%d,%s\n" % (i, i % 90, b"FM"[i % 2 : i % 2 + 1], i % 17, i % 7,
                                   (b"K/uL", b"cells/uL", b"G/L")[i % 3])
        for i in range(600)
    )  # fmt: skip
    assert_same(b"id,age,sex,wbc,unit\n" + rows, jobs=jobs)
    assert len(forgotten) > 3 and sum(blocks_written) == 600
