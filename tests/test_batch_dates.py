"""Exact ages in ``cbc-ranges batch``: ``--birth-date-col`` and ``--date-col``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cbc_ranges.batch import BatchSummary, check_csv
from cbc_ranges.batch.dates import read_date
from cbc_ranges.cli import main
from cbc_ranges.errors import BatchError, PersonError
from cbc_ranges.rows import RESULT_COLUMNS

FLAG = 6 + RESULT_COLUMNS.index("wbc_flag")
ERROR = 6 + RESULT_COLUMNS.index("wbc_error")
LOW = 6 + RESULT_COLUMNS.index("wbc_ref_low")


def run(data: str, **options: object) -> tuple[BatchSummary, list[list[str]], bytes]:
    out = io.BytesIO()
    summary = check_csv(io.BytesIO(data.encode()), out, **options)  # type: ignore[arg-type]
    raw = out.getvalue()
    return summary, list(csv.reader(io.StringIO(raw.decode(), newline=""))), raw


HEADER = "id,dob,drawn,age,sex,wbc\n"
DATES = {"birth_date_col": "dob", "date_col": "drawn"}


def test_the_month_is_counted_on_the_calendar() -> None:
    # born 31 January 2024: one month old on 29 February (a leap year), not a day before
    data = HEADER + "1,2024-01-31,2024-02-28,29 days,F,8.0\n2,2024-01-31,2024-02-29,,F,8.0\n"
    summary, records, _ = run(data, **DATES)
    assert records[1][FLAG] == "low" and records[1][LOW] == "9.1"  # the birth band
    assert records[2][FLAG] == "normal" and records[2][LOW] == "6.1"  # 1-23 months
    assert any("calendar-exact" in w and "'age' is not used" in w for w in summary.warnings)
    _, by_age, _ = run(data)  # the age column alone: "29 days", and no age at all (adult)
    assert by_age[1][FLAG] == "low" and by_age[2][LOW] == "4.5"


def test_every_row_comes_back_with_its_bytes_and_bad_dates_are_row_errors() -> None:
    data = (
        HEADER
        + "1,2024-01-01,2024-03-01 08:00:00,,F,8.0\n"
        + "2,01/02/2024,2024-03-01,,F,8.0\n"
        + "3,2024-03-02,2024-03-01,,F,8.0\n"
        + '4,2024-01-01,,,F,"8,0"\n'
        + "5,2024-01-01,2024-01-05T10:00,,F,20\n"
    )
    summary, records, raw = run(data, **DATES)
    for given_line, out_line in zip(data.splitlines(), raw.decode().splitlines(), strict=True):
        assert out_line.startswith(given_line + ",")
    assert records[1][FLAG] == "normal"
    assert "'01/02/2024' is not a date written YYYY-MM-DD" in records[2][ERROR]
    assert "before the birth date" in records[3][ERROR]
    assert records[4][ERROR] == "no test date in this row"
    assert records[5][FLAG] == "normal" and records[5][LOW] == "9.1"
    assert summary.errors == 3 and summary.normal == 2


def test_both_columns_are_needed_and_must_exist() -> None:
    with pytest.raises(BatchError, match="give --date-col too"):
        run(HEADER, birth_date_col="dob")
    with pytest.raises(BatchError, match="give --birth-date-col too"):
        run(HEADER, date_col="drawn")
    with pytest.raises(BatchError, match="--birth-date-col 'born': no such column"):
        run(HEADER, birth_date_col="born", date_col="drawn")


def test_json_lines_and_text_use_the_exact_age() -> None:
    data = HEADER + "1,2024-01-31,2024-02-28,,F,8.0\n"
    _, _, raw = run(data, format="jsonl", **DATES)
    (obj,) = [json.loads(text) for text in raw.decode().splitlines()]
    assert obj["wbc_flag"] == "low" and obj["wbc_ref_low"] == 9.1
    _, records, _ = run(data, text=True, **DATES)
    assert records[1][FLAG] == "low" and "9.1 to 30.1" in records[1][-1]  # the birth band


def test_whole_panels_with_exact_ages() -> None:
    data = (
        "specimen_id,itemid,valuenum,valueuom,dob,charttime,gender\n"
        "1,51301,8.0,K/uL,2024-01-31,2024-02-28 09:00,F\n"
        "1,51301,8.0,K/uL,2024-01-31,2024-02-29 09:00,F\n"
        "1,51301,8.0,K/uL,2024-31-01,2024-02-29 09:00,F\n"
    )
    _, records, _ = run(data, analyte_col="itemid", birth_date_col="dob", date_col="charttime")
    flags = [record[7 + 3] for record in records[1:]]
    assert flags == ["low", "normal", ""]
    assert "is not a date" in records[3][-1]


def test_read_date_refuses_what_it_would_have_to_guess() -> None:
    for text in ("2024-02-30", "5 March 2024", "03/05/2024", "2024-03-05x", ""):
        with pytest.raises(PersonError):
            read_date(text, "test date")
    assert read_date("20240305", "test date") == read_date("2024-03-05T08:00", "test date")


def test_the_cli_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "kids.csv"
    source.write_text(HEADER + "1,2024-01-31,2024-02-28,,F,8.0\n")
    out = tmp_path / "out.csv"
    args = ["batch", str(source), "-o", str(out), "--birth-date-col", "dob", "--date-col", "drawn"]
    assert main(args) == 0
    assert "calendar-exact" in capsys.readouterr().err
    assert list(csv.reader(io.StringIO(out.read_text())))[1][FLAG] == "low"
