"""check_csv: every row back, in order, input columns untouched, results appended."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbc_ranges import batch
from cbc_ranges.batch import BatchSummary, check_csv, command, detect_columns, writers
from cbc_ranges.batch.files import LEGACY_FALLBACK
from cbc_ranges.errors import BatchError
from cbc_ranges.rows import RESULT_COLUMNS, RowInterpreter

N = len(RESULT_COLUMNS)
csv.field_size_limit(1 << 30)  # the huge-field files are read back here too


def run(data: bytes, **options: object) -> tuple[BatchSummary, list[list[str]], bytes]:
    """check_csv over in-memory bytes; the output parsed back as CSV records."""
    out = io.BytesIO()
    summary = check_csv(io.BytesIO(data), out, **options)  # type: ignore[arg-type]
    raw = out.getvalue()
    text = raw.decode(
        "utf-8-sig" if summary.output_encoding.startswith("utf-8") else summary.output_encoding,
        LEGACY_FALLBACK,
    )
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=summary.delimiter))
    return summary, records, raw


def records_of(data: bytes, encoding: str = "utf-8-sig", delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter))


def assert_round_trip(data: bytes, records: list[list[str]], **read: str) -> None:
    """Same rows, same order, every input cell unchanged, nine result cells after them.

    A short row is padded to the header's width; a row longer than the header
    keeps its extra cells, and the result cells follow its last cell.
    """
    given_rows = [r for r in records_of(data, **read) if r]
    out_rows = [r for r in records if r]
    assert len(out_rows) == len(given_rows)
    width = len(given_rows[0])
    assert out_rows[0] == given_rows[0] + list(RESULT_COLUMNS)
    for before, after in zip(given_rows, out_rows, strict=True):
        assert len(after) == max(len(before), width) + N
        assert after[: len(before)] == before
        assert after[len(before) : width] == [""] * (width - len(before))


TEACHING = b"""id,age,sex,wbc,unit
1,30,F,3.2,K/uL
2,30,M,7.5,10^9/L
3,30,F,12.5,K/uL
4,8,M,4500,cells/uL
5,40,F,abc,K/uL
6,40,F,<=4.5,10^9/L
"""


def test_summary_counts_and_flags() -> None:
    summary, records, _ = run(TEACHING)
    # the 8-year-old's 4.5 is within the 4.5-13.5 of the standard table's band for ages 2-10
    assert (summary.rows_read, summary.low, summary.normal, summary.high) == (6, 1, 2, 1)
    assert (summary.indeterminate, summary.errors, summary.skipped) == (1, 1, 0)
    assert summary.rows_read == (
        summary.low
        + summary.normal
        + summary.high
        + summary.indeterminate
        + summary.errors
        + summary.skipped
    )
    flags = [r[5 + 1] for r in records[1:]]
    assert flags == ["low", "normal", "high", "normal", "", "indeterminate"]
    assert records[5][-1] and records[4][5:7] == ["4.5", "normal"]
    assert summary.columns == {
        "value": "wbc",
        "unit": "unit",
        "age": "age",
        "sex": "sex",
        "ethnicity": None,
        "ref_low": None,
        "ref_high": None,
        "ref_range": None,
    }


def test_cells_match_the_row_interpreter() -> None:
    _, records, _ = run(TEACHING)
    rows = RowInterpreter()
    for record in records[1:]:
        entry = rows.lookup(record[3], record[4], record[1], record[2], None)
        assert tuple(record[5:]) == entry.cells


MESSY = {
    "bom": "\ufeffid,wbc,unit\n1,4.2,K/µL\n".encode(),
    "crlf": b"id,wbc,unit\r\n1,4.2,K/uL\r\n2,5,K/uL\r\n",
    "quoted newline": b'id,note,wbc\n1,"two\nlines, and a comma",4.2\n2,"say ""hi""",5\n',
    "ragged": b"id,wbc,unit\n1,4.2,K/uL\n2,4.2\n3,4,2,K/uL\n4\n",
    "header only": b"id,wbc,unit\n",
    "blank lines": b"id,wbc\n\n1,4.2\n\n2,5.1\n",
    "huge field": b"id,note,wbc\n1," + b"x" * 300_000 + b",4.2\n",
    "huge quoted field": b'id,note,wbc\n1,"' + b"y, " * 100_000 + b'",4.2\n',
    "no final newline": b"id,wbc\n1,4.2",
    "separator char": b"id,wbc,sex\n1,4.2,F\x1fM\n2,4.2,F\n",
    "tabs": b"id\twbc\tunit\n1\t4.2\tK/uL\n",
}


@pytest.mark.parametrize("name", MESSY)
def test_messy_files_round_trip(name: str) -> None:
    data = MESSY[name]
    summary, records, _ = run(data)
    assert_round_trip(data, records, delimiter=summary.delimiter)
    assert (
        summary.rows_read
        == len([r for r in records_of(data, delimiter=summary.delimiter) if r]) - 1
    )


def test_input_text_comes_back_byte_for_byte() -> None:
    data = b'id,note,wbc\n1,"quoted , kept",4.2\n2,  spaced  ,5\n3,"""",6\n'
    _, _, raw = run(data)
    lines = raw.decode().splitlines()
    assert lines[1].startswith('1,"quoted , kept",4.2,') and lines[2].startswith("2,  spaced  ,5,")
    assert lines[3].startswith('3,"""",6,')


def test_ragged_rows_keep_their_data_and_explain() -> None:
    _, records, raw = run(MESSY["ragged"])
    short, long, single = records[2], records[3], records[4]
    assert short[:3] == ["2", "4.2", ""] and "2 fields" in short[-1] and short[4] == ""
    # a long row ("4,2" split by a comma) keeps its bytes; the result cells follow its last field
    assert long[:4] == ["3", "4", "2", "K/uL"] and "4 fields" in long[-1] and len(long) == 4 + N
    assert single[0] == "4" and single[-1].startswith("row has 1 field,")
    assert raw.splitlines()[3].startswith(b"3,4,2,K/uL,")


def test_semicolon_file_with_decimal_commas_in_latin1(tmp_path: Path) -> None:
    data = "Alter;Geschlecht;Leukozyten;Einheit\n40;F;3,2;G/l\n40;F;7,25;Tsd/µl\n".encode("cp1252")
    summary, records, raw = run(data)
    assert (summary.encoding, summary.delimiter) == ("cp1252", ";")
    assert summary.output_encoding == "cp1252"
    source = tmp_path / "export.csv"
    source.write_bytes(data)
    check_csv(source)
    written = (tmp_path / "export.wbc.csv").read_bytes()
    assert written == raw  # the input's encoding is kept, no byte-order mark
    assert records[1][4:6] == ["3,2", "low"] and records[2][4:6] == ["7,25", "normal"]
    assert records[2][3] == "Tsd/µl" and records[1][8:10] == ["4,5", "11"]
    assert_round_trip(data, records, encoding="cp1252", delimiter=";")
    converted = tmp_path / "utf8.csv"
    summary = check_csv(source, converted, output_encoding="utf-8")
    assert summary.output_encoding == "utf-8" and "converted to utf-8" in summary.text()
    assert converted.read_bytes() == b"\xef\xbb\xbf" + raw.decode("cp1252").encode()


def test_a_late_latin1_byte_in_a_utf8_file_is_read_as_cp1252() -> None:
    data = b"id,wbc,unit\n" + b"1,4.2,K/uL\n" * 20_000 + b"2,4.2,K/\xb5L\n"
    summary, records, raw = run(data)
    assert summary.encoding == "utf-8" and records[-1][2] == "K/µL" and records[-1][4] == "low"
    assert raw.splitlines()[-1].startswith(b"2,4.2,K/\xb5L,")  # the byte is kept
    assert "not valid UTF-8" in records[-1][-2] and "1 line not in" in summary.warnings[-1]


def test_declared_encoding_that_does_not_fit_is_a_batch_error(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    data = b"id,wbc,unit\n" + b"1,4.2,K/uL\n" * 20_000 + b"2,4.2,K/\xb5L\n"
    with pytest.raises(BatchError, match="cannot be read as utf-8 on line 20,002"):
        check_csv(io.BytesIO(data), target, encoding="utf-8")
    assert not target.exists() and os.listdir(tmp_path) == []


def test_empty_file_gives_an_empty_output(tmp_path: Path) -> None:
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")
    summary = check_csv(source)
    assert summary.rows_read == 0 and "the file is empty" in summary.warnings
    assert (tmp_path / "empty.wbc.csv").read_bytes() == b""


def test_default_output_name_and_input_untouched(tmp_path: Path) -> None:
    source = tmp_path / "lab.csv"
    source.write_bytes(TEACHING)
    summary = check_csv(source)
    assert summary.output == str(tmp_path / "lab.wbc.csv")
    assert source.read_bytes() == TEACHING
    jsonl = check_csv(source, format="jsonl")
    assert jsonl.output == str(tmp_path / "lab.wbc.jsonl")


def test_output_equal_to_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "lab.csv"
    source.write_bytes(TEACHING)
    monkeypatch.chdir(tmp_path)
    for same in (source, "lab.csv", tmp_path / "." / "lab.csv"):
        with pytest.raises(BatchError, match="is the input file"):
            check_csv(source, same)
    os.link(source, tmp_path / "hard.csv")
    with pytest.raises(BatchError, match="is the input file"):
        check_csv(source, tmp_path / "hard.csv")
    assert source.read_bytes() == TEACHING


def test_interrupted_run_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "lab.csv"
    source.write_bytes(b"id,wbc\n" + b"".join(b"%d,%d.5\n" % (n, n % 20) for n in range(5000)))
    target = tmp_path / "out.csv"
    target.write_text("previous run\n")
    calls = 0
    real = RowInterpreter.outcome

    def interrupted(self: RowInterpreter, *args: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 10:
            raise KeyboardInterrupt
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(RowInterpreter, "outcome", interrupted)
    with pytest.raises(KeyboardInterrupt):
        check_csv(source, target)
    assert target.read_text() == "previous run\n"
    assert sorted(os.listdir(tmp_path)) == ["lab.csv", "out.csv"]


def test_where_keeps_long_files_whole() -> None:
    data = b"""itemid,valuenum,valueuom,anchor_age,gender
51301,3.1,K/uL,40,F
51222,13.0,g/dL,40,F
51300,7.0,K/uL,40,M
51265,250,K/uL,40,M
"""
    summary, records, _ = run(data, where="itemid=51300, 51301")
    assert (summary.rows_read, summary.skipped, summary.low, summary.normal) == (4, 2, 1, 1)
    assert records[2][5:] == [""] * N and records[4][5:] == [""] * N
    assert records[1][6] == "low" and records[3][6] == "normal"
    everything, _, _ = run(data)
    assert everything.errors == 1 and everything.high == 1  # haemoglobin refused, platelets "high"
    both, _, _ = run(data, where=["itemid=51300,51301", "gender=F"])
    assert both.skipped == 3
    assert run(data, where={"itemid": ["51222"]})[0].errors == 1
    with pytest.raises(BatchError, match="COLUMN=VALUE"):
        run(data, where="itemid")
    with pytest.raises(BatchError, match="no such column"):
        run(data, where="item=1")


def test_mimic_censored_value_is_read_from_the_text_column() -> None:
    data = b"itemid,value,valuenum,valueuom,anchor_age,gender\n51301,<0.1,,K/uL,50,F\n"
    summary, records, _ = run(data)
    assert summary.value_column == "valuenum" and records[1][6:8] == ["<0.1", "low"]


def test_jsonl_has_one_object_per_row_with_the_same_fields() -> None:
    summary, _, raw = run(TEACHING + b'7,30,F,"4,2",K/uL\n', format="jsonl")
    objects = [json.loads(line) for line in raw.decode().splitlines()]
    assert len(objects) == summary.rows_read == 7
    assert list(objects[0]) == ["id", "age", "sex", "wbc", "unit", *RESULT_COLUMNS]
    assert objects[0]["wbc_value"] == 3.2 and objects[0]["wbc_leukopenia"] is True
    assert objects[4]["wbc_flag"] is None and objects[4]["wbc_error"]
    assert objects[5]["wbc_value"] == "<=4.5" and objects[5]["wbc_warnings"]
    _, records, _ = run(TEACHING + b'7,30,F,"4,2",K/uL\n')
    for record, obj in zip(records[1:], objects, strict=True):
        assert record[6] == (obj["wbc_flag"] or "")


def test_column_detection() -> None:
    assert detect_columns(["Patient", "Alter", "Geschlecht", "Leukozyten", "Einheit"]) == {
        "value": "Leukozyten",
        "unit": "Einheit",
        "age": "Alter",
        "sex": "Geschlecht",
        "ethnicity": None,
    }
    assert detect_columns(["WBC (x10^9/L)", "Race"])["value"] == "WBC (x10^9/L)"
    assert detect_columns(["result", "units", "anchor_age"], {"age": ""})["age"] is None
    assert detect_columns(["a", "b"], {"value": "B"})["value"] == "b"
    with pytest.raises(BatchError, match=r"'wbc' .*'leukocytes'.*--value-col") as error:
        detect_columns(["wbc", "leukocytes"])
    assert error.value.suggestions == ["wbc", "leukocytes"]
    with pytest.raises(BatchError, match="no WBC value column"):
        detect_columns(["id", "hemoglobin"])
    with pytest.raises(BatchError, match="no such column"):
        detect_columns(["wbc"], {"unit": "units"})


def test_unit_in_the_header_is_the_default_unit() -> None:
    summary, records, _ = run(b"WBC (cells/uL),age,sex\n4200,30,F\n")
    assert summary.default_unit == "cells/uL" and records[1][3:5] == ["4.2", "low"]


def test_no_value_column_is_a_batch_error(tmp_path: Path) -> None:
    source = tmp_path / "lab.csv"
    source.write_bytes(b"id,hemoglobin\n1,13\n")
    with pytest.raises(BatchError, match="no WBC value column"):
        check_csv(source)
    assert os.listdir(tmp_path) == ["lab.csv"]


@pytest.mark.parametrize(
    ("header", "named"),
    [(b"id,age,sex,ANC", "'ANC' (neutrophils)"), (b"id,NEUT#,LYMPH%", "'LYMPH%' (lymphocytes)")],
)
def test_differential_columns_without_a_wbc_are_named_not_taken_for_it(
    tmp_path: Path, header: bytes, named: str
) -> None:
    # an ANC-only sheet: the message names its columns and warns against --value-col ANC
    source = tmp_path / "anc.csv"
    source.write_bytes(header + b"\n1,40,F\n")
    with pytest.raises(BatchError, match="no WBC column found, but differential") as error:
        check_csv(source)
    assert named in str(error.value)
    assert "Do not name a differential column with --value-col" in str(error.value)
    assert os.listdir(tmp_path) == ["anc.csv"]


def test_a_differential_column_named_as_the_wbc_is_warned(tmp_path: Path) -> None:
    source = tmp_path / "anc.csv"
    source.write_bytes(b"id,age,sex,ANC\n1,40,F,1.2\n")
    summary = check_csv(source, tmp_path / "out.csv", value_col="ANC")
    assert any("'ANC' is headed as neutrophils" in w for w in summary.warnings)
    plain = tmp_path / "wbc.csv"
    plain.write_bytes(b"id,age,sex,Leukozyten\n1,40,F,5.2\n")
    summary = check_csv(plain, tmp_path / "out2.csv")
    assert not any("is headed as" in w for w in summary.warnings)


def test_missing_file_is_a_batch_error(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="no such file"):
        check_csv(tmp_path / "nope.csv")


def test_binary_streams_are_left_open() -> None:
    source, out = io.BytesIO(TEACHING), io.BytesIO()
    check_csv(source, out)
    assert not out.closed and out.getvalue()


# any text a cell can hold (NUL marks a binary file and is refused on purpose)
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
cell = st.text(alphabet=characters, max_size=8)
value_cell = st.one_of(cell, st.sampled_from(["4.2", "<1", "4,5", "7200", "12 K/uL", ""]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(cell, value_cell, cell, cell), min_size=0, max_size=12),
    st.sampled_from([",", ";", "\t"]),
)
def test_any_table_comes_back_row_for_row(rows: list[tuple[str, ...]], delimiter: str) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["note", "wbc", "age", "sex"])
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    summary, records, _ = run(data, delimiter=delimiter)
    given_rows = [r for r in records_of(data, delimiter=delimiter) if r]
    out_rows = [r for r in records if r]
    assert len(out_rows) == len(given_rows) == summary.rows_read + 1
    for before, after in zip(given_rows[1:], out_rows[1:], strict=True):
        assert after[: len(before)] == before and len(after) == 4 + N


def test_batch_module_docstring_is_the_help_text() -> None:
    assert batch.__doc__ and "not a diagnosis" in " ".join(batch.__doc__.split())


def test_docs_list_every_header_name_and_option() -> None:
    page = (Path(__file__).parents[1] / "docs" / "batch.md").read_text(encoding="utf-8")
    for role, tiers in batch.COLUMN_NAMES.items():
        for name in sorted(set().union(*tiers)):
            assert f"`{name}`" in page, (role, name)
    for column in RESULT_COLUMNS:
        assert f"`{column}`" in page
    for option in ("--value-col", "--where", "--default-unit", "--encoding", "--quiet"):
        assert option in page


class _SizedSource:
    size = 1000

    def position(self) -> int:
        return 250


def test_progress_line_shows_rate_and_eta_then_clears() -> None:
    stream = io.StringIO()
    progress = command._Progress(_SizedSource(), stream)  # type: ignore[arg-type]
    progress.show(5000, progress.started + 2.0)
    line = stream.getvalue()
    assert line.startswith("\r") and "5,000 rows" in line and "2,500 rows/s" in line
    assert "25.0%" in line and "ETA 6 s" in line
    progress.close()
    assert stream.getvalue().endswith("\r")
    rows = list(progress.wrap(iter([b"a"] * 10)))
    assert len(rows) == 10


def test_caches_emptied_mid_file_give_the_same_output(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [b"id,age,sex,wbc,unit"]
    for n in range(3000):
        lines.append(b"%d,%d,%s,%d.%d,%s" % (n, n % 97, b"FM"[n % 2 : n % 2 + 1], n % 23, n % 10,
                                            [b"K/uL", b"cells/uL", b""][n % 3]))  # fmt: skip
    data = b"\n".join(lines) + b"\n"
    _, roomy, _ = run(data)
    monkeypatch.setattr(writers, "_FILL_LIMIT", 40)
    monkeypatch.setattr(writers, "_ROW_CACHE_SIZE", 8)
    _, tight, _ = run(data)
    assert tight == roomy


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_caches_that_start_afresh_give_the_same_output(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    lines = ["id,wbc,unit,age,sex,ethnicity"]
    for i in range(300):
        value = f"{(i * 37) % 160 / 10:.1f}"
        unit = ("K/uL", "G/L", "10^9/L")[i % 3]
        lines.append(f"{i},{value},{unit},{(i * 7) % 90},{'FM'[i % 2]},{('', 'Black')[i % 5 == 0]}")
    data = ("\n".join(lines) + "\n").encode()
    _, expected, expected_bytes = run(data)
    monkeypatch.setattr(writers, "_FILL_LIMIT", limit)
    summary, records, output = run(data)
    assert output == expected_bytes
    assert records == expected
    assert summary.rows_read == 300
