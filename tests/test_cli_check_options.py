"""`cbc-ranges check`: the lab's range, an age from dates, and the FHIR subject/date/id."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cbc_ranges import interpret
from cbc_ranges.cli import main
from cbc_ranges.fhir import from_fhir
from cbc_ranges.people import Age


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lab_range_sets_the_flag_and_keeps_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "3.2", "--unit", "K/uL", "--age", "40", "--sex", "F",
                       "--lab-range", "3.0-10.0", "--json")  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert (result["flag"], result["table_flag"]) == ("normal", "low")
    assert result["reference"]["source"]["id"] == "reporting-laboratory"


@pytest.mark.parametrize(
    ("birth", "date"),
    [("2026-01-01", "2026-01-08"), ("2025-02-28", "2026-02-27"), ("2008-11-29", "2026-11-29")],
)
def test_birth_date_and_date_give_the_calendar_age(
    capsys: pytest.CaptureFixture[str], birth: str, date: str
) -> None:
    code, out, _ = run(capsys, "check", "7.0", "--birth-date", birth, "--date", date, "--json")
    assert code == 0
    age = Age.between(dt.date.fromisoformat(birth), dt.date.fromisoformat(date))
    expected = interpret("7.0", age=age)
    result = json.loads(out)
    assert result["person"] == json.loads(expected.person.model_dump_json())
    assert result["reference"] == json.loads(expected.reference.model_dump_json())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--birth-date", "2020-01-01"], "needs --date"),
        (["--birth-date", "2020-01-01", "--date", "2019-12-31"], "before --birth-date"),
        (["--birth-date", "2020-02-30", "--date", "2021-01-01"], "not a date"),
        (["--birth-date", "2020-01-01", "--date", "2021-01-01", "--age", "3"], "not both"),
        (["--subject", "Patient/1"], "only with --format fhir"),
    ],
)
def test_bad_dates_and_options_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "check", "7.0", *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_fhir_output_carries_subject_date_and_id_and_reads_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "check", "3.1", "--unit", "K/uL", "--sex", "F",
                       "--birth-date", "1990-06-15", "--date", "2026-06-15",
                       "--format", "fhir", "--subject", "Patient/p1", "--id", "wbc-1")  # fmt: skip
    assert code == 0
    observation = json.loads(out)
    assert observation["id"] == "wbc-1"
    assert observation["subject"] == {"reference": "Patient/p1"}
    assert observation["effectiveDateTime"] == "2026-06-15"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female",
                          "birthDate": "1990-06-15"}},
            {"resource": observation},
        ],
    }  # fmt: skip
    again = from_fhir(bundle)
    assert (again.person.age_years, again.person.sex, again.flag) == (36, "female", "low")
