"""The columnar path of whole panels (``cbc_ranges.batch.fast_panels``) against the row loop.

Its contract: the same output bytes and the same summary as ``careful=True`` (the row loop
of ``panels.write_long``), on any long file. Blocks are made small here so that a file spans
several of them and its panels cross them; speed is measured in
``benchmarks/bench_panels.py``, never here.
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

from cbc_ranges.batch import BatchSummary, check_csv, fast, fast_panels
from cbc_ranges.errors import BatchError

pytest.importorskip("polars")

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    b"subject_id,hadm_id,specimen_id,itemid,charttime,value,valuenum,valueuom,"
    b"ref_range_lower,ref_range_upper,anchor_age,gender\n"
)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "BLOCK_BYTES", 600)


blocks: list[int] = []


@pytest.fixture
def blocks_written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of every block the columnar path wrote."""
    original = fast_panels.FastPanels._write_rows

    def spy(self: fast_panels.FastPanels, data: bytes, totals: Any, last: bool) -> Any:
        written, tally = original(self, data, totals, last)
        blocks.append(tally.rows)
        return written, tally

    blocks.clear()
    monkeypatch.setattr(fast_panels.FastPanels, "_write_rows", spy)
    return blocks


def assert_same(data: bytes, **options: Any) -> bytes:
    """The columnar path's bytes and summary are the row loop's; returns the bytes."""
    options.setdefault("analyte_col", "itemid")
    fast_out, careful_out = io.BytesIO(), io.BytesIO()
    fast_summary = check_csv(io.BytesIO(data), fast_out, **options)
    careful_summary = check_csv(io.BytesIO(data), careful_out, careful=True, **options)
    assert fast_out.getvalue() == careful_out.getvalue()
    assert dataclasses.replace(fast_summary, seconds=0) == dataclasses.replace(
        careful_summary, seconds=0
    )
    return fast_out.getvalue()


def panel(specimen: int, wbc: str, *percentages: str, age: str = "40", sex: str = "F") -> bytes:
    """A draw: its WBC row and the percentage rows of the five-part differential."""
    items = ("51256", "51244", "51254", "51200", "51146")
    head = b"%d,20%d,%d" % (specimen % 7, specimen % 7, specimen)
    tail = b"%s,%s\n" % (age.encode(), sex.encode())
    rows = [head + b",51301,2180-01-01 08:00,%s,%s,K/uL,4,11," % (wbc.encode(), wbc.encode())]
    rows += [
        head + b",%s,2180-01-01 08:00,%s,%s,%%,,," % (item.encode(), p.encode(), p.encode())
        for item, p in zip(items, percentages, strict=False)
    ]
    return b"".join(row + tail for row in rows)


def test_the_panels_example_takes_the_columnar_path(blocks_written: list[int]) -> None:
    data = (ROOT / "examples" / "panels_sample.csv").read_bytes()
    assert_same(data)
    assert sum(blocks_written) == data.count(b"\n") - 1


def test_the_benchmark_file_gives_the_same_bytes(
    tmp_path: Path, blocks_written: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast, "BLOCK_BYTES", 1 << 14)  # a few blocks: each costs its polars calls
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_panels import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    generate(tmp_path / "panels.csv", 3_000)
    data = (tmp_path / "panels.csv").read_bytes()
    assert_same(data, analyte_map="mimic-iv", jobs=2)
    assert_same(data, analyte_map="mimic-iv", where="gender=F", jobs=1)
    assert sum(blocks_written) == 2 * (data.count(b"\n") - 1)


def test_counts_near_a_rounding_tie_take_the_row_loops_reading(
    blocks_written: list[int],
) -> None:
    # 12.5 % of 0.00001: 1.25e-6 lies on a tie of the 6 places written
    data = HEADER + panel(1, "0.00001", "12.5", "37.5") + panel(2, "7.3", "33.35", "0.5")
    out = assert_same(data)
    assert blocks_written and b"0.000001" in out


def test_a_panel_without_wbc_with_two_or_a_bound_and_bands(blocks_written: list[int]) -> None:
    data = HEADER + panel(1, "6.0", "50", "30") + panel(1, "6.00", "40")  # two that agree
    data += panel(2, "6.0", "50") + panel(2, "7.5")  # two that disagree
    data += panel(3, "<0.1", "50") + panel(4, "", "50")  # a bound, an empty cell
    data += b"5,205,5,51256,2180-01-01 08:00,55,55,%,,,40,F\n"  # no WBC in the file
    data += b"6,206,6,51144,2180-01-01 08:00,4.0,4.0,%,0,5,40,F\n" + panel(6, "8.2", "61.5")
    data += b"7,207,7,51144,2180-01-01 08:00,1,1,K/uL,,,40,F\n" + panel(7, "8.2", "61.5")
    data += b"8,208,8,51144,2180-01-01 08:00,<1,<1,%,,,40,F\n" + panel(8, "8.2", "61.5")
    data += b"9,,,51256,2180-01-01 08:00,<1,<1,%,,,40,F\n"  # no panel cells at all
    data += b"9,209,9,51256,2180-01-01 08:00,50 H,50 H,%,,,40,F\n" + panel(9, "9")
    assert_same(data)
    assert_same(data, panel_cols="subject_id,hadm_id,charttime")
    assert_same(data, panel_cols="subject_id")
    assert blocks_written


def test_people_the_ranges_cannot_place_and_counts_they_flag_each_way(
    blocks_written: list[int],
) -> None:
    data = HEADER
    for n, (age, sex) in enumerate((("40", "F"), ("3", "M"), ("", ""), ("abc", "F"), ("200", "X"))):
        data += panel(10 + n, "7.5", "0", "99.9", "150", "0.001", age=age, sex=sex)
        data += panel(20 + n, "999", "100", "1", "55.5", age=age, sex=sex)
    assert_same(data)
    assert blocks_written


def test_without_panel_columns_and_with_other_items(blocks_written: list[int]) -> None:
    data = b"itemid,value,valueuom,age,sex\n" + b"".join(
        b"%s,%s,%s,40,F\n" % (item, value, unit)
        for item, value, unit in (
            (b"51301", b"7.1", b"K/uL"),
            (b"51256", b"60", b"%"),
            (b"50912", b"1.0", b"mg/dL"),
            (b"52075", b"3.1", b"K/uL"),
        )
        * 20
    )
    assert_same(data)
    assert blocks_written


def test_a_semicolon_file_with_decimal_commas(blocks_written: list[int]) -> None:
    rows = HEADER + b"".join(panel(n, f"{n % 9 + 2}#{n % 10}", f"{40 + n % 30}#5", "30#25")
                             for n in range(40))  # fmt: skip
    semicolon = rows.replace(b",", b";").replace(b"#", b",").replace(b"K/uL;4;11", b"G/L;4;11")
    assert_same(semicolon)
    assert sum(blocks_written) == semicolon.count(b"\n") - 1


def test_a_last_line_without_its_end_and_crlf_lines(blocks_written: list[int]) -> None:
    data = HEADER + b"".join(panel(n, "6.5", "55", "35") for n in range(30))
    assert_same(data[:-1])
    crlf = data.replace(b"\n", b"\r\n")
    out = assert_same(crlf[:-2])
    assert out.count(b"\r\n") == crlf.count(b"\r\n") - 1
    assert sum(blocks_written) == 2 * (data.count(b"\n") - 1)


@pytest.mark.parametrize("end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("blank", [1, 3])
def test_blank_lines_at_the_end_stay_on_the_columnar_path(
    end: bytes, blank: int, blocks_written: list[int]
) -> None:
    # an editor's or a spreadsheet's last line end: the file is not sent to the row loop
    data = (HEADER + b"".join(panel(n, "6.5", "55", "35") for n in range(30))).replace(b"\n", end)
    out = assert_same(data + end * blank)
    assert out.endswith(b"," + end + end * blank)  # the last row, then the blank lines
    assert sum(blocks_written) == data.count(b"\n") - 1


def test_a_last_block_of_blank_lines_is_written_as_the_row_loop_writes_it() -> None:
    # more blank lines at the end than a block holds: the blocks before the last are odd
    data = HEADER + b"".join(panel(n, "6.5", "55", "35") for n in range(10))
    assert_same(data + b"\n" * 700)
    assert_same(data[:-1] + b"\n" * 700)


def test_simply_quoted_fields_stay_on_the_columnar_path(blocks_written: list[int]) -> None:
    data = HEADER + b"".join(panel(n, "6.5", "55", "35") for n in range(30))
    quoted = data.replace(b",51256,", b',"51256",').replace(b",F\n", b',"F"\n')
    assert_same(quoted)
    assert sum(blocks_written) == quoted.count(b"\n") - 1


@pytest.mark.parametrize(
    ("odd", "why"),
    [
        (b'1,201,1,51256,"2180-01-01\n08:00",50,50,%,,,40,F\n', "a quoted line break"),
        (b"1,201,1,51256,2180-01-01 08:00,50,50,%,,,40,F\n\n", "a blank line"),
        (b"1,201,1,51256,2180-01-01 08:00,50,50,%,,,40\n", "a ragged row"),
        (
            b"1,201,1,51256,08:00,50,50,%,,,40,F,x\n1,201,1,51256,08:00,50,50,%,,,40\n",
            "ragged rows whose fields add up",
        ),
        (
            b"1,201,1,51256,08:00,50,50,%,,,40\n1,201,1,51256,08:00,50,50,%,,,40,F,x\n",
            "a short row, then a long one",
        ),
        (b"1,201,1,51256,2180-01-01 08:00,50,50,%,,,40,F\r\n", "another line end"),
        (b'1,201,1,51256,2180-01-01 08:00,50 "x",50,%,,,40,F\n', "a quote inside a field"),
        (b"1,201,1,51256,2180-01-01 08:00,50,50,\xb5,,,40,F\n", "a byte that is not UTF-8"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_file_with_an_odd_block_takes_the_row_loop(
    odd: bytes, why: str, blocks_written: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a byte that is not UTF-8 in the first 64 KiB makes the whole file cp1252: put it after
    count = 1_300 if b"\xb5" in odd else 20
    if count > 20:
        monkeypatch.setattr(fast, "BLOCK_BYTES", 1 << 14)
    before = b"".join(panel(n, "6.5", "55", "35") for n in range(count))
    after = b"".join(panel(n, "7.5", "65", "25") for n in range(count, count + 20))
    assert_same(HEADER + before + odd + after)
    assert not blocks_written, why


class _Pipe(io.RawIOBase):
    """Standard input: read once, no seeking."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("odd", [b"", b"1,201,1,51256,08:00,50,50,%,,,40\n"])
def test_standard_input_is_kept_for_the_second_pass(odd: bytes) -> None:
    data = HEADER + b"".join(panel(n, "6.5", "55", "35") for n in range(40)) + odd
    careful = io.BytesIO()
    check_csv(io.BytesIO(data), careful, analyte_col="itemid", careful=True)
    out = io.BytesIO()
    check_csv(io.BufferedReader(_Pipe(data)), out, analyte_col="itemid")  # type: ignore[arg-type]
    assert out.getvalue() == careful.getvalue()


def test_a_listener_or_json_lines_take_the_row_loop(blocks_written: list[int]) -> None:
    data = HEADER + b"".join(panel(n, "6.5", "55", "35") for n in range(10))
    check_csv(io.BytesIO(data), io.BytesIO(), analyte_col="itemid", format="jsonl")
    assert not blocks_written


# -- any long file -------------------------------------------------------------------------

_ITEMS = ("51301", "51300", "51256", "51244", "51254", "51200", "51146", "51144", "52075",
          "50912", "x", " 51301 ")  # fmt: skip
_NUMBERS = st.one_of(
    st.integers(0, 300).map(str),
    st.decimals(0, 120, places=1).map(str),
    st.decimals(0, 20, places=3).map(str),
    st.sampled_from(("0.00001", "12.5", "33.35", "1e3", "4,5", "<0.1", ">50", "", "abc",
                     "7.3 H", "-1", "100000", " 6.1 ")),
)  # fmt: skip
_UNITS = ("%", "%", "K/uL", "", "/uL", "mg/dL", "x10^9/L", "10⁹/L", "K/µL")
_PEOPLE = (("40", "F"), ("67", "M"), ("2", "F"), ("", ""), ("abc", "M"), ("130", "U"))


@st.composite
def long_files(draw: st.DrawFn) -> bytes:
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(1, 6),
                st.sampled_from(("10", "", " 10")),
                st.sampled_from(_ITEMS),
                _NUMBERS,
                st.sampled_from(_UNITS),
                st.sampled_from(("", "4", "11")),
                st.sampled_from(_PEOPLE),
            ),
            max_size=60,
        )
    )
    lines = [
        f"{s},{h},{s * 10},{item},2180-01-0{s} 08:00,{v},{v},{u},{lab},{lab},{age},{sex}\n"
        for s, h, item, v, u, lab, (age, sex) in rows
    ]
    return HEADER + "".join(lines).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_files(), st.sampled_from([None, "subject_id,hadm_id,charttime", "hadm_id"]))
def test_any_long_file_gives_the_same_bytes_columnar_and_careful(
    data: bytes, panel_cols: str | None
) -> None:
    assert_same(data, panel_cols=panel_cols)


def test_the_summary_counts_bands_and_other_items_as_not_checked() -> None:
    data = HEADER + panel(1, "6.5", "55") + b"1,201,1,51144,08:00,4,4,%,,,40,F\n"
    data += b"1,201,1,50912,08:00,1.0,1.0,mg/dL,,,40,F\n"
    summary: BatchSummary = check_csv(io.BytesIO(data), io.BytesIO(), analyte_col="itemid")
    assert summary.skipped == 2 and summary.rows_read == 4
    assert any("1 row of other items" in note for note in summary.warnings)


def test_an_input_that_changes_between_the_passes_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = fast_panels.FastPanels._taken

    def changed(self: fast_panels.FastPanels, data: bytes, *, second: bool) -> Any:
        if second:
            raise fast_panels._Refused
        return original(self, data, second=second)

    monkeypatch.setattr(fast_panels.FastPanels, "_taken", changed)
    data = HEADER + b"".join(panel(n, "6.5", "55") for n in range(5))
    with pytest.raises(BatchError, match="changed while it was read"):
        check_csv(io.BytesIO(data), io.BytesIO(), analyte_col="itemid")
