"""The batch with the lab's own reference range: ``ref_range_lower``/``ref_range_upper``
(MIMIC-IV), other low/high pairs, a range text column, and the ``--ref-*-col`` options."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cbc_ranges.batch import check_csv
from cbc_ranges.batch.columns import COLUMN_NAMES, detect
from cbc_ranges.batch.command import BatchSummary
from cbc_ranges.cli import main
from cbc_ranges.errors import BatchError
from cbc_ranges.rows import RESULT_COLUMNS, RowInterpreter

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
N = len(RESULT_COLUMNS)
FLAG = RESULT_COLUMNS.index("wbc_flag")
SOURCE = RESULT_COLUMNS.index("wbc_source")
WARNINGS = RESULT_COLUMNS.index("wbc_warnings")

MIMIC = (
    b"subject_id,itemid,value,valuenum,valueuom,ref_range_lower,ref_range_upper,anchor_age,gender\n"
    b"1,51301,4.2,4.2,K/uL,3.5,10.5,40,M\n"
    b"2,51301,4.2,4.2,K/uL,,,40,M\n"
    b"3,51222,14.0,14.0,g/dL,12,16,40,M\n"
    b"4,51301,4.2,4.2,K/uL,4.5,,40,M\n"
    b"5,51301,11.0,11.0,K/uL,,10.5,40,M\n"
    b'6,51301,"4.2",4.2,K/uL,3.5,10.5,40,M\n'
    b"7,51301,4.2,4.2,K/uL,3.5,10.5,40,M\r\n"
)


def run(data: bytes, **options: object) -> tuple[BatchSummary, list[list[str]], bytes]:
    out = io.BytesIO()
    summary = check_csv(io.BytesIO(data), out, **options)  # type: ignore[arg-type]
    raw = out.getvalue()
    delimiter = summary.delimiter
    rows = list(csv.reader(io.StringIO(raw.decode(), newline=""), delimiter=delimiter))
    return summary, rows, raw


def test_mimic_pair_flags_against_the_lab_range() -> None:
    summary, rows, _ = run(MIMIC, where="itemid=51301")
    table = RowInterpreter().lookup("4.2", "K/uL", "40", "M")
    first, empty, other, low_only, high_only, quoted, crlf = (r[-N:] for r in rows[1:])
    assert first[FLAG] == "normal" and first[SOURCE] == "reporting-laboratory"
    assert first[RESULT_COLUMNS.index("wbc_ref_low")] == "3.5"
    assert tuple(empty) == table.cells  # no range in the row: the table's, as before
    assert empty[SOURCE] != "reporting-laboratory"
    assert other == [""] * N  # --where still leaves other items alone
    assert low_only[FLAG] == "low" and low_only[SOURCE] == "reporting-laboratory"
    assert high_only[FLAG] == "high" and high_only[SOURCE] == "reporting-laboratory"
    assert quoted == first and crlf == first  # careful path and hot path agree
    assert summary.columns["ref_low"] == "ref_range_lower"
    assert summary.columns["ref_high"] == "ref_range_upper"
    assert summary.columns["ref_range"] is None


def test_the_summary_names_the_range_columns() -> None:
    summary, _, _ = run(MIMIC, where="itemid=51301")
    line = next(x for x in summary.text().splitlines() if "columns:" in x)
    assert "ref_low='ref_range_lower', ref_high='ref_range_upper'" in line


def test_input_rows_come_back_byte_for_byte() -> None:
    _, _, raw = run(MIMIC, where="itemid=51301")
    given = MIMIC.splitlines(keepends=True)
    out = raw.splitlines(keepends=True)
    assert len(given) == len(out)
    for before, after in zip(given, out, strict=True):
        body = before.rstrip(b"\r\n")
        assert after.startswith(body + b",")
        assert after.endswith(before[len(body) :])


def test_every_row_is_what_the_row_interpreter_says() -> None:
    lines = ["age,sex,wbc,unit,ref_low,ref_high"]
    for i in range(400):
        low = ("3.5", "4", "", '"4,0"', "x")[i % 5]
        high = ("10.5", "11", "11", "", "")[i % 4]
        unit = ("K/uL", "cells/uL", "")[i % 3]
        lines.append(f"{20 + i % 50},{'MF'[i % 2]},{3 + (i % 90) / 10},{unit},{low},{high}")
    data = ("\n".join(lines) + "\n").encode()
    _, rows, _ = run(data)
    interpreter = RowInterpreter()
    for row in rows[1:]:
        low, high = row[4].strip(), row[5].strip()
        lab = (
            f"{low}-{high}"
            if low and high
            else f">={low}"
            if low
            else f"<={high}"
            if high
            else None
        )
        cells = interpreter.lookup(*row[2:4], *row[:2], "", lab).cells
        out = row[6:]
        assert out[:WARNINGS] == list(cells[:WARNINGS]), row
        assert out[WARNINGS + 1 :] == list(cells[WARNINGS + 1 :]), row
        # a long warning is cut to 300 characters (MESSAGE_LIMIT), on either path
        assert out[WARNINGS] == cells[WARNINGS] or out[WARNINGS][:60] == cells[WARNINGS][:60]


def test_an_explicit_range_column() -> None:
    data = (
        b"wbc,unit,Lab interval,ward\n"
        b"4.2,K/uL,3.5 - 10.5 K/uL,A\n"
        b"4200,cells/uL,3.5 - 10.5 K/uL,A\n"
        b"4.2,K/uL,,A\n"
    )
    summary, rows, _ = run(data, ref_range_col="Lab interval")
    assert summary.columns["ref_range"] == "Lab interval"
    assert rows[1][-N:][FLAG] == "normal" and rows[1][-N:][SOURCE] == "reporting-laboratory"
    assert rows[2][-N:][FLAG] == "normal" and rows[2][-N:][SOURCE] == "reporting-laboratory"
    assert rows[3][-N:][SOURCE] != "reporting-laboratory"
    _, rows, _ = run(data, ref_range_col="")  # '' turns it off (it is not detected anyway)
    assert rows[1][-N:][SOURCE] != "reporting-laboratory"


def test_a_range_column_is_detected() -> None:
    data = b"wbc;unit;Referenzbereich\n4,2;K/uL;3,5-10,5\n"
    summary, rows, _ = run(data)
    assert summary.columns["ref_range"] == "Referenzbereich"
    assert rows[1][-N:][FLAG] == "normal" and rows[1][-N:][SOURCE] == "reporting-laboratory"


def test_decimal_commas_in_low_and_high_cells() -> None:
    data = b"Leukozyten;Einheit;normal_low;normal_high\n4,2;G/L;3,5;10,5\n3,2;G/L;3,5;10,5\n"
    summary, rows, _ = run(data)
    assert (summary.columns["ref_low"], summary.columns["ref_high"]) == (
        "normal_low",
        "normal_high",
    )
    assert [r[-N:][FLAG] for r in rows[1:]] == ["normal", "low"]
    assert rows[1][-N:][SOURCE] == "reporting-laboratory"


def test_a_bad_range_cell_keeps_the_row_with_a_warning() -> None:
    data = b"wbc,unit,age,sex,reference_range\n4.2,K/uL,40,M,see report\n4.2,K/uL,40,M,\n"
    summary, rows, _ = run(data)
    bad, empty = rows[1][-N:], rows[2][-N:]
    assert bad[FLAG] == empty[FLAG] and bad[SOURCE] == empty[SOURCE]  # the table's range
    assert "reference range was not read" in bad[WARNINGS]
    assert "see report" in bad[WARNINGS]
    assert summary.errors == 0 and summary.rows_read == 2


def test_half_a_pair_is_not_used_and_a_pair_wins_over_a_range_column() -> None:
    header = ["wbc", "ref_low", "ward"]
    assert "ref_low" not in detect(header, {}).index
    both = ["wbc", "ref_low", "ref_high", "reference_range"]
    found = detect(both, {}).index
    assert "ref_range" not in found and found["ref_low"] == 1 and found["ref_high"] == 2
    chosen = detect(both, {"ref_range": "reference_range"}).index
    assert "ref_low" not in chosen and chosen["ref_range"] == 3
    assert detect(header, {"ref_low": "ref_low"}).index["ref_low"] == 1  # named: one-sided


@pytest.mark.parametrize(
    "name", sorted(set().union(*COLUMN_NAMES["ref_range"])), ids=lambda n: n.encode().hex()
)
def test_every_range_column_name_is_detected(name: str) -> None:
    assert detect(["wbc", name.upper()], {}).names["ref_range"] == name.upper()


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("ref_range_lower", "ref_range_upper"),
        ("ref_low", "ref_high"),
        ("reference_low", "reference_high"),
        ("normal_low", "normal_high"),
        ("Lower Limit", "Upper Limit"),
    ],
)
def test_every_pair_is_detected(low: str, high: str) -> None:
    found = detect(["wbc", low, high], {}).names
    assert (found["ref_low"], found["ref_high"]) == (low, high)


def test_bad_options_are_refused() -> None:
    with pytest.raises(BatchError, match="--ref-low-col 'nope'"):
        run(MIMIC, ref_low_col="nope")
    with pytest.raises(BatchError, match="one column cannot be both"):
        run(MIMIC, ref_low_col="ref_range_lower", ref_high_col="ref_range_lower")
    with pytest.raises(BatchError, match="one column cannot be both"):
        run(MIMIC, value_col="valuenum", ref_range_col="valuenum")
    with pytest.raises(BatchError, match="not both"):
        run(MIMIC, ref_low_col="ref_range_lower", ref_range_col="value")


def test_jsonl_carries_the_lab_range() -> None:
    out = io.BytesIO()
    check_csv(io.BytesIO(MIMIC), out, where="itemid=51301", format="jsonl")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["wbc_flag"] == "normal"
    assert records[0]["wbc_source"] == "reporting-laboratory"
    assert records[1]["wbc_source"] != "reporting-laboratory"


def test_text_uses_the_lab_range_too() -> None:
    _, rows, _ = run(MIMIC, where="itemid=51301", text=True)
    summary_cell = rows[1][-2]
    assert "within the usual range" in summary_cell  # 4.2 is low in the table, not here


def test_the_cli_options_and_the_labevents_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "labevents.csv"
    given = EXAMPLES / "labevents_sample.csv"
    assert main(["batch", str(given), "-o", str(out), "--where", "itemid=51301"]) == 0
    err = capsys.readouterr().err
    assert "ref_low='ref_range_lower', ref_high='ref_range_upper'" in err
    rows = list(csv.reader(out.open(newline="")))
    flagged = [r for r in rows[1:] if r[4] == "51301"]
    assert flagged and all(r[-N:][SOURCE] == "reporting-laboratory" for r in flagged)
    plain = tmp_path / "plain.csv"
    assert main(["batch", str(given), "-o", str(plain), "-q", "--where", "itemid=51301",
                 "--ref-low-col", "", "--ref-high-col", ""]) == 0  # fmt: skip
    rows = list(csv.reader(plain.open(newline="")))
    assert all(r[-N:][SOURCE] != "reporting-laboratory" for r in rows[1:] if r[4] == "51301")
